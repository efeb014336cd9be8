import { Credentials } from '../event/credentials.ts'
import type { Portal } from '../../schemas/portal.ts'
import { chatOf } from '../event/scan-webhook.ts'
import type { BodyKind, Source } from '../store/store.ts'

/** What a door hands over: an authenticated event's wire, read just enough to put it in line. */
export interface Arrival {
  source: Source
  /** The event type the door read, upper case. */
  type: string
  /** The chat it is about, or `null`: one chat's events are handled in order. */
  chat: string | null
  portal: Portal
  bodyKind: BodyKind
  /** The wire minus its credentials. */
  body: string
  /** What came with it (a webhook's `auth` and `data.bot.auth`; nothing for a polled event): sealed before it is stored. */
  credentials: Credentials
}

/**
 * One event of an `Event.get` result, as the poll door hands it over: stored as it came, whatever
 * it is (what is not an event is kept, under `value`, for the worker to dead-letter: confirming
 * it unstored would lose it).
 */
export function polledArrival(polled: unknown, portal: Portal): Arrival {
  const payload = (typeof polled === 'object' && polled !== null ? polled : { value: polled }) as { type?: unknown; data?: unknown }
  const type = typeof payload.type === 'string' && payload.type !== '' ? payload.type.toUpperCase() : 'UNKNOWN'
  return { source: 'poll', type, chat: chatOf(payload.data), portal, bodyKind: 'payload', body: JSON.stringify(payload), credentials: new Credentials() }
}
