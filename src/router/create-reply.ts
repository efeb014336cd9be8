import { BitrixError } from '../bitrix/bitrix-error.ts'
import type { Bitrix } from '../bitrix/bitrix.ts'
import type { NormalizedEvent } from '../event/decoded-event.ts'

const SEND = 'imbot.v2.Chat.Message.send'

/** The `fields` of `imbot.v2.Chat.Message.send` (chat-bots-v2 imbot.v2/messages/chat-message-send.md): text, attachments, keyboard. */
export interface MessageFields {
  /** The text, up to 20 000 characters (the portal cuts a longer one and adds ` (...)`). */
  message?: string
  /** Attachments: a list of blocks, or the full form `{BLOCKS, COLOR_TOKEN, …}`. */
  attach?: unknown
  /** Buttons under the message. */
  keyboard?: unknown[]
  /** A system message; `false` by default. */
  system?: boolean | 'Y' | 'N'
  /** Previews of links; `true` by default. */
  urlPreview?: boolean | 'Y' | 'N'
  /** The message this one answers. */
  replyId?: number
  /** UUID of a message template. */
  templateId?: string
  /** Messages to forward, `{uuid: messageId}` (at most 100). */
  forwardIds?: Record<string, number>
  /** Any other field the method takes. */
  [field: string]: unknown
}

/** What `imbot.v2.Chat.Message.send` returns: the new message's id, and the ids of forwarded ones by their UUID. */
export interface SentMessage {
  id: number
  uuidMap: Record<string, number>
}

/** Answers in the event's dialog as its bot: see `HandlerContext.reply`. */
export type Reply = (message: string | MessageFields) => Promise<SentMessage>

/**
 * `ctx.reply` for `event`: `imbot.v2.Chat.Message.send` through `bitrix` (so paced, and refused
 * once the attempt is abandoned, as any call) with the event's bot (`data.bot.id`) and dialog
 * (`data.dialogId` of a join or a context event, else `data.chat.dialogId`: the chat the message
 * came from). An event without both rejects with `NO_REPLY_DIALOG`, sending nothing.
 */
export function createReply(event: NormalizedEvent, bitrix: Bitrix): Reply {
  const data = event.data as { bot?: { id?: unknown }; dialogId?: unknown; chat?: { dialogId?: unknown } }
  const botId = data.bot?.id
  const dialogId = typeof data.dialogId === 'string' ? data.dialogId : data.chat?.dialogId
  return async (message) => {
    if (typeof botId !== 'number' || typeof dialogId !== 'string' || dialogId === '') {
      throw new BitrixError(SEND, 'NO_REPLY_DIALOG', null, `${event.type} names no bot and dialog to answer in: call ${SEND} with ctx.bitrix`)
    }
    const fields = typeof message === 'string' ? { message } : message
    return bitrix.call<SentMessage>(SEND, { botId, dialogId, fields })
  }
}
