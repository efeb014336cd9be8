import { createHash } from 'node:crypto'
import type { DecodedEvent, Portal } from './decoded-event.ts'

const portalKey = (portal: Portal) => portal.memberId ?? portal.domain ?? '-'

/**
 * The dedup key of an event. Polled events have an id: portal and `eventId`. A webhook has none,
 * so its key digests portal, type, `ts` and the stripped data: a double delivery of one event is
 * the same key, two real edits of one message (other text, other time) are two.
 */
export function dedupKey({ event, delivery }: DecodedEvent, eventJson = JSON.stringify(event)): string {
  if (event.eventId !== null) return `poll:${portalKey(delivery.portal)}:${event.eventId}`
  return `hook:${createHash('sha256').update(portalKey(delivery.portal)).update('\n').update(eventJson).digest('base64url')}`
}

/**
 * The ordering key: events of one chat are handled one at a time, in arrival order. An event
 * about no chat (a bot deleted, an app installed) waits only behind events of its own type from
 * its portal, so that a double delivery of it comes after the first and is recognised.
 */
export const chatKey = (portal: Portal, type: string, chat: string | null): string =>
  chat === null ? `solo:${portalKey(portal)}:${type}` : `chat:${portalKey(portal)}:${chat}`

/**
 * The portal of a chat key: its member id (its domain without a port when it had none), what
 * turns are shared by. The stores' claims read it from the key alike (the part after the first
 * `:`), in SQL too.
 */
export const portalOfChat = (chatKey: string): string => chatKey.split(':', 2)[1] as string
