import type { ReceiverError } from '../errors.ts'
import type { InboundEvent } from '../event/inbound-event.ts'
import { normalizePolled } from '../event/normalize-polled.ts'
import { normalizeWebhook } from '../event/normalize-webhook.ts'
import { chatKey, dedupKey } from '../event/event-keys.ts'
import type { Inbox } from './inbox.ts'

export type ReplayResult = { id: number; replayed: true } | { id: number; replayed: false; reason: string }

/**
 * Puts a dead letter back in line. One that failed its handlers goes back as it was; one that
 * failed its schema is decoded again from its stored payload and credentials first (after a fix
 * of the schema, or of the portal), and stays dead with the new reason if it still fails.
 */
export function replayDeadLetter(inbox: Inbox, id: number): ReplayResult {
  const source = inbox.deadLetterSource(id)
  if (!source) return { id, replayed: false, reason: 'no dead letter with this id' }
  if (source.event) {
    inbox.revive(id, source.event, null)
    return { id, replayed: true }
  }
  const payload = source.payload as Record<string, unknown>
  if (source.source === 'poll') return revive(inbox, id, () => normalizePolled(payload, source.portal))
  const data = payload.data as Record<string, unknown> | undefined
  const bot = data?.bot as Record<string, unknown> | undefined
  const restored = {
    ...payload,
    auth: source.credentials.auth,
    data: bot && source.credentials.bot ? { ...data, bot: { ...bot, auth: source.credentials.bot } } : data,
  }
  return revive(inbox, id, () => normalizeWebhook(restored))
}

function revive(inbox: Inbox, id: number, decode: () => InboundEvent): ReplayResult {
  try {
    const inbound = decode()
    inbox.revive(id, inbound.event, chatKey(inbound, dedupKey(inbound)))
    return { id, replayed: true }
  } catch (error) {
    // Still off its schema, or (a polled event) not even an event.
    return { id, replayed: false, reason: (error as ReceiverError).message }
  }
}
