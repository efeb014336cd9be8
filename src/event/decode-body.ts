import { MalformedBodyError } from '../errors.ts'
import { parseForm, type FormLimits } from '../wire/parse-form.ts'
import type { InboundEvent } from './inbound-event.ts'
import { normalizePolled } from './normalize-polled.ts'
import { Credentials } from './credentials.ts'
import { normalizeWebhook } from './normalize-webhook.ts'

/**
 * Decodes a raw body into an event: a PHP form body (what Bitrix24 posts), or JSON when it
 * starts with `{`: a webhook payload `{event, data, ts, auth}` or one polled event
 * `{eventId, type, date, data}`.
 * @throws {MalformedBodyError} | {EnvelopeError} | {EventValidationError}
 */
export function decodeBody(body: string, limits?: Partial<FormLimits>): InboundEvent {
  if (!body.trimStart().startsWith('{')) return normalizeWebhook(parseForm(body, limits))
  const json = parseJson(body)
  return 'eventId' in json ? normalizePolled(json, new Credentials().portal) : normalizeWebhook(json)
}

function parseJson(body: string): Record<string, unknown> {
  try {
    return JSON.parse(body) as Record<string, unknown>
  } catch (error) {
    throw new MalformedBodyError('the body is not valid JSON', { cause: error })
  }
}
