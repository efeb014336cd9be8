import Type from 'typebox'
import { WebhookPayloadSchema } from '../../schemas/webhook-payload.ts'
import { compileDecoder } from '../wire/compile-decoder.ts'
import { Credentials, type AuthBlock } from './credentials.ts'
import { decodeEventData } from './decode-event-data.ts'
import type { InboundEvent, Portal } from './inbound-event.ts'
import { readAuthBlock } from './read-auth-block.ts'
import { readEnvelope } from './read-envelope.ts'

// `data` and `auth` are read apart: `data` by its event's schema, `auth` without dropping tokens.
const decodeEnvelope = compileDecoder(Type.Omit(WebhookPayloadSchema, ['data', 'auth']))

/**
 * Turns a webhook payload (a parsed form body, or the same as JSON) into the polling-format
 * event `{eventId: null, type, date, data}` and its delivery: `auth` and `data.bot.auth` move to
 * `delivery.credentials`, every other credential is dropped from `data`.
 * @throws {EnvelopeError} when the payload is no Bitrix24 event (no `event`, no valid `ts`).
 * @throws {EventValidationError} when a chat event does not match its schema.
 */
export function normalizeWebhook(payload: Record<string, unknown>): InboundEvent {
  const { head, data } = readEnvelope(decodeEnvelope, payload, ['event', 'event_handler_id', 'ts'], 'a Bitrix24 event')
  const credentials = webhookCredentials(payload)
  const type = head.event.toUpperCase()
  return {
    event: {
      eventId: null,
      type,
      date: new Date(head.ts * 1000).toISOString().replace('.000Z', '+00:00'),
      data: decodeEventData(type, data),
    } as InboundEvent['event'],
    delivery: {
      source: 'webhook',
      portal: portalOf(credentials.auth ?? credentials.bot),
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

/** The portal facts of an `auth` block. */
export function portalOf(auth: AuthBlock | undefined): Portal {
  return { domain: auth?.domain ?? null, memberId: auth?.member_id ?? null, clientEndpoint: auth?.client_endpoint ?? null }
}
