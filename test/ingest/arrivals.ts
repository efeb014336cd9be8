import { Credentials } from '../../src/event/credentials.ts'
import { webhookCredentials } from '../../src/event/normalize-webhook.ts'
import type { Arrival } from '../../src/ingest/arrival.ts'
import { samplePayload } from '../../src/simulate/sample-payload.ts'

export const TOKEN = 'c76f868e000000000000000000000000'

/** A bot's message as a webhook brings it, `auth` and `data.bot.auth` included. */
export function webhookArrival(options: { text?: string; chatId?: number; ts?: number } = {}): Arrival {
  const payload = samplePayload({ type: 'ONIMBOTV2MESSAGEADD', token: TOKEN, ts: 1_800_000_000, ...options })
  const credentials = webhookCredentials(payload)
  return { source: 'webhook', payload, credentials, portal: credentials.portal }
}

/** The same message with its `data` off its schema (a message id that is no number). */
export function invalidWebhookArrival(): Arrival {
  const arrival = webhookArrival()
  const data = arrival.payload.data as { message: Record<string, unknown> }
  return { ...arrival, payload: { ...arrival.payload, data: { ...data, message: { ...data.message, id: 'abc' } } } }
}

export const POLL_PORTAL = { domain: 'example.bitrix24.com', memberId: 'polled-member', clientEndpoint: 'https://example.bitrix24.com/rest/' }

/** One event of an `im.v2.Event.get` result. */
export function polledArrival(eventId = 7): Arrival {
  const { data } = samplePayload({ type: 'ONIMV2MESSAGEADD', token: TOKEN, ts: 1_800_000_000 })
  return { source: 'poll', payload: { eventId, type: 'ONIMV2MESSAGEADD', date: '2027-01-15T08:00:00+00:00', data }, credentials: new Credentials(), portal: POLL_PORTAL }
}
