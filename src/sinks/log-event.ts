import type { NormalizedEvent } from '../event/decoded-event.ts'
import type { HandlerContext } from '../router/handler-context.ts'

interface Seen {
  chat?: { dialogId?: unknown }
  message?: { id?: unknown; text?: unknown }
  messageId?: unknown
  dialogId?: unknown
}

/**
 * Built-in handler: one concise line per event (type, portal, chat, message id); the message
 * text only at `debug`, since chat content is personal data.
 */
export function logEvent(event: NormalizedEvent, ctx: HandlerContext): void {
  const data = event.data as Seen
  const line = {
    eventId: event.eventId,
    chat: data.chat?.dialogId ?? data.dialogId,
    messageId: data.message?.id ?? data.messageId,
    source: ctx.source,
    attempt: ctx.attempt,
  }
  if (ctx.log.isLevelEnabled('debug') && data.message?.text !== undefined) ctx.log.debug({ ...line, text: data.message.text }, 'event')
  else ctx.log.info(line, 'event')
}
