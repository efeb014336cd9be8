import Type from 'typebox'
import { WebhookPayloadSchema } from '../../schemas/webhook-payload.ts'
import { compileDecoder } from '../wire/compile-decoder.ts'
import { Credentials } from './credentials.ts'
import { decodeEventData } from './decode-event-data.ts'
import type { DecodedEvent } from './decoded-event.ts'
import { isoInstant } from './iso-instant.ts'
import { readAuthBlock } from './read-auth-block.ts'
import { readEnvelope } from './read-envelope.ts'

// `data` and `auth` are read apart: `data` by its event's schema, `auth` without dropping tokens.
const decodeEnvelope = compileDecoder(Type.Omit(WebhookPayloadSchema, ['data', 'auth']))

/**
 * Turns a webhook payload (a parsed form body, or the same as JSON) into the polling-format
 * event `{eventId: null, type, date, data}` and its delivery: `auth` and `data.bot.auth` move to
 * `delivery.credentials` (or, for a payload kept with its credentials cut out, the ones given),
 * every other credential is dropped from `data`.
 * @throws {EnvelopeError} when the payload is no Bitrix24 event (no `event`, no valid `ts`).
 * @throws {EventValidationError} when a chat event does not match its schema.
 */
export function normalizeWebhook(payload: Record<string, unknown>, credentials = webhookCredentials(payload)): DecodedEvent {
  const { head, data } = readEnvelope(decodeEnvelope, payload, ['event', 'event_handler_id', 'ts'], 'a Bitrix24 event')
  const type = head.event.toUpperCase()
  return {
    event: {
      eventId: null,
      type,
      date: isoInstant(head.ts),
      data: decodeEventData(type, data),
    } as DecodedEvent['event'],
    delivery: {
      source: 'webhook',
      portal: credentials.portal,
      handlerId: head.event_handler_id ?? null,
      credentials,
    },
  }
}

/** The credentials of a webhook payload: its top-level `auth` and the bot's `data.bot.auth`. */
export function webhookCredentials(payload: Record<string, unknown>): Credentials {
  const data = payload.data as { bot?: { auth?: unknown } } | undefined
  return new Credentials(readAuthBlock(payload.auth), readAuthBlock(data?.bot?.auth))
}
