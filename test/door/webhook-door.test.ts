import t from 'tap'
import { pino } from 'pino'
import type { Portal } from '../../schemas/portal.ts'
import type { Arrival } from '../../src/door/arrival.ts'
import type { Verifier } from '../../src/door/verifier.ts'
import { scanRequest, webhookDoor, type WebhookDoorParts } from '../../src/door/webhook-door.ts'
import { StoreUnavailableError } from '../../src/store/store-unavailable-error.ts'
import { UnauthorizedError } from '../../src/auth/verify-token.ts'
import { captureLogs } from '../helpers.ts'
import { MEMBER_ID, wireOf } from './arrivals.ts'

const FORM = 'application/x-www-form-urlencoded'
const body = wireOf('imbot_v2_message_add_webhook')

/** A door with the test's verifier: what it appended, what it refused and which portals it told of. */
function door(verify: Verifier, parts: Partial<WebhookDoorParts> = {}) {
  const appended: Arrival[] = []
  const refusals: number[] = []
  const told: Array<[Portal, string]> = []
  const logs = captureLogs()
  const handle = webhookDoor({
    bodyLimit: 64 * 1024,
    verify,
    append: async (arrival) => void appended.push(arrival),
    logger: pino({ level: 'error' }, logs.stream),
    refused: (portal, code) => void told.push([portal, code]),
    observe: { refused: (status) => void refusals.push(status) },
    ...parts,
  })
  return { handle, appended, refusals, told, logs }
}

t.test('the chain [scan, verify, append]: the scanned arrival is verified, then appended by the verifier, then 200', async (t) => {
  const seen: Arrival[] = []
  const { handle, appended, refusals } = door(async (arrival, append) => {
    seen.push(arrival)
    await append(arrival)
  })
  t.same(await handle({ body: Buffer.from(body), contentType: FORM }), { status: 200, body: { ok: true } })
  t.same(seen, [scanRequest({ body, contentType: FORM }, Infinity)])
  t.same(appended, seen)
  t.match(appended[0], { source: 'webhook', type: 'ONIMBOTV2MESSAGEADD', chat: '5', portal: { memberId: MEMBER_ID }, bodyKind: 'form' })
  t.same(refusals, [], 'a stored event is the ingest’s to count')
})

t.test('what scan refuses never reaches the verifier: 415, 413, 400, each counted', async (t) => {
  const { handle, refusals } = door(async () => void t.fail('not verified'), { bodyLimit: body.length })
  t.match(await handle({ body, contentType: 'text/plain' }), { status: 415, body: { error: 'UNSUPPORTED_MEDIA_TYPE' } })
  t.match(await handle({ body: `${body}&x=1`, contentType: FORM }), { status: 413, body: { error: 'BODY_TOO_LARGE' } })
  t.match(await handle({ body: 'x=1', contentType: FORM }), { status: 400, body: { error: 'NOT_AN_EVENT' } })
  t.same(refusals, [415, 413, 400])
})

t.test("the verifier's refusal is the answer: a 401 tells which portal, once; a 503 and a 500 do not", async (t) => {
  const errors = [new UnauthorizedError('INVALID_TOKEN', 'auth[application_token] is not accepted here'), new StoreUnavailableError('the store cannot be written'), new Error('disk on fire')]
  const { handle, refusals, told, appended, logs } = door(async () => Promise.reject(errors.shift()))
  t.same(await handle({ body, contentType: FORM }), { status: 401, body: { error: 'INVALID_TOKEN', message: 'auth[application_token] is not accepted here' } })
  t.match(await handle({ body, contentType: FORM }), { status: 503, body: { error: 'INBOX_UNAVAILABLE' } })
  t.same(await handle({ body, contentType: FORM }), { status: 500, body: { error: 'INTERNAL', message: 'internal error' } })
  t.same(refusals, [401, 503, 500])
  t.same(told.map(([portal, code]) => [portal.memberId, code]), [[MEMBER_ID, 'INVALID_TOKEN']])
  t.same(appended, [])
  t.match(logs.parsed(), [{ msg: 'request failed', err: { message: 'disk on fire' } }], 'only the 500 is logged as an error')
})
