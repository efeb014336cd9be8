import Type from 'typebox'
import { PolledEventSchema } from '../../schemas/event-get-result.ts'
import { compileDecoder } from '../wire/compile-decoder.ts'
import { Credentials } from './credentials.ts'
import { decodeEventData } from './decode-event-data.ts'
import type { DecodedEvent, Portal } from './decoded-event.ts'
import { readEnvelope } from './read-envelope.ts'

const decodeEnvelope = compileDecoder(Type.Omit(PolledEventSchema, ['data']))

/**
 * Checks one event returned by `im.v2.Event.get` / `imbot.v2.Event.get` through the same
 * schemas as a webhook, so a handler sees the same `data` whichever door it came through.
 * @throws {EnvelopeError} when it is not a polled event (`eventId`, `type`, `date`).
 * @throws {EventValidationError} when a chat event does not match its schema.
 */
export function normalizePolled(polled: Record<string, unknown>, portal: Portal): DecodedEvent {
  const { head, data } = readEnvelope(decodeEnvelope, polled, ['eventId', 'type', 'date'], 'a polled event')
  const { eventId, type, date } = head
  return {
    event: { eventId, type, date, data: decodeEventData(type, data) } as DecodedEvent['event'],
    delivery: { source: 'poll', portal, handlerId: null, credentials: new Credentials() },
  }
}
