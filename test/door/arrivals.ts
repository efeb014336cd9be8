import type { Credentials } from '../../src/event/credentials.ts'
import type { Portal } from '../../schemas/portal.ts'
import type { Arrival } from '../../src/door/arrival.ts'
import { scanRequest } from '../../src/door/webhook-door.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import { readFixture } from '../helpers.ts'

// Arrivals as the doors hand them over, built from real Bitrix24 wires (test/fixtures/bitrix).

/** The sealer the tests store credentials with: a fixed key, the real cipher. */
export const SEALER = createSealer(Buffer.alloc(32, 7))

/** A bot's message in chat 5 (`data[chat][id]=5`), with `auth` and `data[bot][auth]`. */
export const MESSAGE = 'imbot_v2_message_add_webhook'
/** A bot deleted: about no chat. */
export const BOT_DELETED = 'imbot_v2_delete_webhook'

/** The portal of the fixtures' credentials, and their application token. */
export const MEMBER_ID = 'bac1cd5c8940947a75e0d71b1a84e348'
export const TOKEN = '831c76b092f9f135d9b6b36c3a720757'

/** The wire of a fixture: its form body as Bitrix24 posted it, or the same payload as JSON. */
export const wireOf = (name: string, media: 'form' | 'json' = 'form'): string => readFixture(`bitrix/${name}.${media === 'form' ? 'body.txt' : 'payload.json'}`)

/** A webhook as the door hands it over once scanned (`scanRequest`) and verified. */
export function webhookArrival(name = MESSAGE, media: 'form' | 'json' = 'form', body = wireOf(name, media)): Arrival {
  return scanRequest({ body, contentType: media === 'form' ? 'application/x-www-form-urlencoded' : 'application/json' }, Infinity)
}

/** The portal a poller reads (no member id: the REST URL gives only its domain). */
export const POLL_PORTAL: Portal = { domain: 'p.bitrix24.com', memberId: null, clientEndpoint: 'https://p.bitrix24.com/rest/' }

/** The `data` of a fixture as `Event.get` returns it: typed JSON, without the bot's tokens. */
export function polledData(name = 'im_v2_message_add'): Record<string, unknown> {
  const data = (JSON.parse(wireOf(name, 'json')) as { data: { bot?: { auth?: unknown } } }).data
  if (data.bot) delete data.bot.auth
  return data
}

/** One event of an `im.v2.Event.get` result (the fixture's chat is 5). */
export const polledEvent = (eventId = 7, name = 'im_v2_message_add', type = 'ONIMV2MESSAGEADD') => ({ eventId, type, date: '2026-01-15T08:00:00+00:00', data: polledData(name) })

/** Every secret a webhook's credentials hold: none may be stored in clear. */
export function secretsOf(credentials: Credentials): string[] {
  const secrets = [credentials.auth?.access_token, credentials.auth?.refresh_token, credentials.auth?.application_token, credentials.bot?.access_token, credentials.bot?.refresh_token, credentials.bot?.application_token]
  return secrets.filter((secret): secret is string => secret !== undefined && secret !== '')
}
