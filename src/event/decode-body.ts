import type { FormLimits } from '../wire/parse-form.ts'
import { Credentials } from './credentials.ts'
import type { DecodedEvent } from './decoded-event.ts'
import { normalizePolled } from './normalize-polled.ts'
import { normalizeWebhook } from './normalize-webhook.ts'
import { readPayload } from './read-payload.ts'

/**
 * Decodes a raw body into an event: a PHP form body (what Bitrix24 posts), or JSON when it
 * starts with `{`: a webhook payload `{event, data, ts, auth}` or one polled event
 * `{eventId, type, date, data}`.
 * @throws {MalformedBodyError} | {EnvelopeError} | {EventValidationError}
 */
export function decodeBody(body: string, limits?: Partial<FormLimits>): DecodedEvent {
  const json = body.trimStart().startsWith('{')
  const payload = readPayload(body, json ? 'json' : 'form', limits)
  return json && 'eventId' in payload ? normalizePolled(payload, new Credentials().portal) : normalizeWebhook(payload)
}
