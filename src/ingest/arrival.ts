import type { Credentials } from '../event/credentials.ts'
import type { InboundEvent, Portal } from '../event/inbound-event.ts'
import { normalizePolled } from '../event/normalize-polled.ts'
import { normalizeWebhook } from '../event/normalize-webhook.ts'
import type { Source } from '../store/store.ts'

/** What a door hands over: an authenticated payload, not yet decoded. */
export interface Arrival {
  source: Source
  /** A webhook's parsed body, or one event of an `Event.get` result. */
  payload: Record<string, unknown>
  /** What came with it (a webhook's `auth` and `data.bot.auth`; nothing for a polled event). */
  credentials: Credentials
  portal: Portal
}

/** A form body past the decoding limits, authenticated by its scan: kept as it came, credentials cut out. */
export interface FormArrival extends Omit<Arrival, 'source' | 'payload'> {
  source: 'webhook'
  /** The body minus its credential pairs. */
  form: string
  /** The `event` the scan read, if any. */
  type: unknown
}

/**
 * Decodes an arrival into the event handlers see, by the rules of the door it came through.
 * @throws {EnvelopeError} | {EventValidationError}
 */
export const decodeArrival = ({ source, payload, credentials, portal }: Arrival): InboundEvent =>
  source === 'poll' ? normalizePolled(payload, portal) : normalizeWebhook(payload, credentials)
