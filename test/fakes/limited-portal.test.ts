import t, { type Test } from 'tap'
import { LimitedPortal, type LimitedPortalOptions } from './limited-portal.ts'
import { ManualClock } from './manual-clock.ts'

// The stand-in portal the outbound benchmark measures against must itself follow the docs.

const START = 1767225600000
const SEND = 'imbot.v2.Chat.Message.send'
const NOTIFY = 'imbot.v2.Chat.InputAction.notify'

async function start(t: Test, options: LimitedPortalOptions = {}) {
  const clock = new ManualClock(START)
  const portal = await LimitedPortal.start({ now: () => clock.now(), ...options })
  t.teardown(() => portal.close())
  const call = async (method: string, params: Record<string, unknown> = {}, auth: unknown = portal.accessToken) => {
    const response = await fetch(`${portal.restEndpoint}${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...params, auth }) })
    return { status: response.status, body: (await response.json()) as any }
  }
  return { clock, portal, call }
}

const message = (n: number) => ({ botId: 511, dialogId: `chat${n}`, fields: { message: `answer ${n}` } })

t.test('its own endpoint: a loopback domain HOST:PORT with /rest/', async (t) => {
  const { portal } = await start(t)
  t.match(portal.domain, /^127\.0\.0\.1:\d+$/)
  t.equal(portal.url, `http://${portal.domain}`)
  t.equal(portal.restEndpoint, `${portal.url}/rest/`)
  t.match(portal.memberId, /^[0-9a-f]{32}$/)
  t.match(portal.accessToken, /^[0-9a-f]{32}$/)
  const other = await LimitedPortal.start({ host: '127.0.0.2', accessToken: 'given' })
  t.teardown(() => other.close())
  t.match(other.domain, /^127\.0\.0\.2:\d+$/, 'another host')
  t.equal(other.accessToken, 'given')
  await t.rejects(LimitedPortal.start({ host: '192.0.2.1' }), 'an address not on this machine')
})

t.test('a message sent is executed, recorded, and answered with result and time (operating figures included)', async (t) => {
  const { portal, call, clock } = await start(t, { cost: (method) => (method === SEND ? 0.25 : 0.01) })
  const first = await call(SEND, message(1))
  t.equal(first.status, 200)
  t.same(first.body.result, { id: 1, uuidMap: [] })
  t.same(first.body.time, {
    start: START / 1000,
    finish: START / 1000 + 0.25,
    duration: 0.25,
    processing: 0.25,
    date_start: '2026-01-01T00:00:00+00:00',
    date_finish: '2026-01-01T00:00:00+00:00',
    operating: 0.25,
    operating_reset_at: START / 1000 + 600,
  })
  clock.advance(1000)
  t.match((await call(`${SEND}.json`, message(2))).body, { result: { id: 2 }, time: { operating: 0.5 } }, 'a .json suffix is the same method')
  t.same(portal.messages, [
    { id: 1, botId: 511, dialogId: 'chat1', text: 'answer 1', at: START },
    { id: 2, botId: 511, dialogId: 'chat2', text: 'answer 2', at: START + 1000 },
  ])
  t.same(portal.executed[0], { method: SEND, params: message(1), at: START }, 'executed, without the token')
  t.match((await call(SEND, { botId: 511, dialogId: 'chat3', fields: { attach: [{ MESSAGE: 'x' }] } })).body.result, { id: 3 }, 'an attachment alone is a message')
  t.equal(portal.messages[2]?.text, '')
  t.same((await call(NOTIFY, { botId: 511, dialogId: 'chat1' })).body.result, true, 'the typing notice')
  t.same(portal.counts, { calls: 4, executed: 4, refused: {} })
})

t.test('refusals in Bitrix24 words, none executed', async (t) => {
  const { portal, call } = await start(t)
  for (const [method, params, auth, status, error] of [
    [SEND, message(1), null, 401, 'NO_AUTH_FOUND'],
    [SEND, message(1), 'other', 401, 'invalid_token'],
    [SEND, { dialogId: 'chat1', fields: { message: 'x' } }, portal.accessToken, 400, 'BOT_ID_REQUIRED'],
    [SEND, { botId: 511, fields: { message: 'x' } }, portal.accessToken, 400, 'DIALOG_ID_EMPTY'],
    [SEND, { botId: 511, dialogId: 'chat1' }, portal.accessToken, 400, 'EMPTY_MESSAGE'],
    ['crm.deal.list', {}, portal.accessToken, 404, 'ERROR_METHOD_NOT_FOUND'],
    ['../oauth', {}, portal.accessToken, 404, 'ERROR_METHOD_NOT_FOUND'],
  ] as const) {
    const answer = await call(method, params, auth)
    t.same([answer.status, answer.body.error], [status, error], error)
    t.type(answer.body.error_description, 'string')
  }
  const get = await fetch(`${portal.restEndpoint}${SEND}`)
  t.equal(get.status, 404, 'only POST')
  const garbage = await fetch(`${portal.restEndpoint}${SEND}`, { method: 'POST', body: 'not json' })
  t.same([garbage.status, ((await garbage.json()) as any).error], [401, 'NO_AUTH_FOUND'], 'a body that is not JSON carries no token')
  const list = await fetch(`${portal.restEndpoint}${SEND}`, { method: 'POST', body: '[1]' })
  t.equal(list.status, 401, 'nor does a list')
  t.same(portal.counts, { calls: 10, executed: 0, refused: { NO_AUTH_FOUND: 3, invalid_token: 1, BOT_ID_REQUIRED: 1, DIALOG_ID_EMPTY: 1, EMPTY_MESSAGE: 1, ERROR_METHOD_NOT_FOUND: 3 } })
  t.same(portal.messages, [])
})

t.test('the bucket: past the threshold HTTP 503 QUERY_LIMIT_EXCEEDED, not executed; room again as it drains', async (t) => {
  const { portal, call, clock } = await start(t, { rate: { drainPerSecond: 2, threshold: 3 } })
  for (let n = 1; n <= 3; n++) t.equal((await call(SEND, message(n))).status, 200)
  const refused = await call(SEND, message(4))
  t.same([refused.status, refused.body.error], [503, 'QUERY_LIMIT_EXCEEDED'])
  t.equal(portal.messages.length, 3, 'not executed')
  t.equal((await call('no.such.method')).status, 503, 'the bucket before anything else')
  clock.advance(500)
  t.equal((await call(SEND, message(4))).status, 200)
  t.same(portal.counts, { calls: 6, executed: 4, refused: { QUERY_LIMIT_EXCEEDED: 2 } })
  portal.bucket.setRate({ drainPerSecond: 5, threshold: 250 })
  t.equal((await call(SEND, message(5))).status, 200, 'another plan')
  portal.bucket.spend(1000)
  t.equal((await call(SEND, message(6))).status, 503, 'another caller took the bucket')
})

t.test('operating time: over the limit, or held, a method alone answers HTTP 429 OPERATION_TIME_LIMIT, not executed', async (t) => {
  const { portal, call, clock } = await start(t, { operatingLimitS: 1, cost: () => 0.5 })
  t.match((await call(SEND, message(1))).body.time, { operating: 0.5 })
  t.match((await call(SEND, message(2))).body.time, { operating: 1 })
  const limited = await call(SEND, message(3))
  t.same([limited.status, limited.body.error], [429, 'OPERATION_TIME_LIMIT'])
  t.equal((await call(NOTIFY, { botId: 511, dialogId: 'chat1' })).status, 200, 'another method goes on')
  clock.advance(600_000)
  t.equal((await call(SEND, message(3))).status, 200, 'released ten minutes on')
  portal.operating.setLimit(480)
  portal.operating.hold(SEND, 20_000)
  clock.advance(19_999)
  t.equal((await call(SEND, message(4))).status, 429, 'held for the window')
  clock.advance(1)
  t.equal((await call(SEND, message(4))).status, 200, 'and after it')
  t.same(portal.messages.map((m) => m.text), ['answer 1', 'answer 2', 'answer 3', 'answer 4'])
  t.same(portal.counts.refused, { OPERATION_TIME_LIMIT: 2 })
})

t.test('refuseNext: the next calls of a method refused with a limit code, in order, others untouched', async (t) => {
  const { portal, call } = await start(t)
  portal.refuseNext(SEND, 'QUERY_LIMIT_EXCEEDED')
  portal.refuseNext(SEND, 'OPERATION_TIME_LIMIT')
  t.equal((await call(NOTIFY, { botId: 511, dialogId: 'chat1' })).status, 200)
  t.match(await call(SEND, message(1)), { status: 503, body: { error: 'QUERY_LIMIT_EXCEEDED' } })
  t.match(await call(SEND, message(1)), { status: 429, body: { error: 'OPERATION_TIME_LIMIT' } })
  t.equal((await call(SEND, message(1))).status, 200)
  t.equal(portal.messages.length, 1)
})

t.test('batch: one bucket slot for up to 50 calls, each executed and timed as alone, errors per call', async (t) => {
  const { portal, call } = await start(t, { rate: { drainPerSecond: 2, threshold: 1 }, cost: () => 0.1 })
  portal.refuseNext(NOTIFY, 'QUERY_LIMIT_EXCEEDED')
  const answer = await call('batch', {
    halt: 0,
    cmd: {
      a: `${SEND}?botId=511&dialogId=chat1&fields[message]=${encodeURIComponent('один & два')}`,
      b: `${NOTIFY}?botId=511&dialogId=chat1`,
      c: 'batch?cmd[x]=user.current',
      d: 'crm.deal.list',
      e: `${SEND}?botId=511&dialogId=chat2&fields[message]=two`,
    },
  })
  t.equal(answer.status, 200)
  const { result, result_error, result_time, result_total, result_next } = answer.body.result
  t.same(result, { a: { id: 1, uuidMap: [] }, e: { id: 2, uuidMap: [] } })
  t.same(result_error, {
    b: { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' },
    c: { error: 'ERROR_BATCH_METHOD_NOT_ALLOWED', error_description: 'Method is not allowed for batch usage' },
    d: { error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' },
  })
  t.match(result_time, { a: { operating: 0.1 }, e: { operating: 0.2 } }, 'one method, its time summed')
  t.same([result_total, result_next], [[], []])
  t.match(answer.body.time, { duration: 0, operating: 0 }, 'the outer call counts no operating time')
  t.same(portal.messages.map((m) => [m.dialogId, m.text]), [['chat1', 'один & два'], ['chat2', 'two']])
  t.same(portal.counts, { calls: 1, executed: 2, refused: { QUERY_LIMIT_EXCEEDED: 1, ERROR_BATCH_METHOD_NOT_ALLOWED: 1, ERROR_METHOD_NOT_FOUND: 1 } })
  t.equal((await call('batch', { cmd: { a: 'x' } })).status, 503, 'the whole batch took the one slot')
})

t.test('batch: halt stops at the first error; a list of calls; no cmd, or more than 50, refused', async (t) => {
  const { call } = await start(t, { rate: { drainPerSecond: 2, threshold: 100 } })
  const halted = await call('batch', { halt: 1, cmd: [`${SEND}?botId=511&dialogId=chat1`, `${SEND}?botId=511&dialogId=chat1&fields[message]=x`] })
  t.same(halted.body.result, { result: [], result_error: { 0: { error: 'EMPTY_MESSAGE', error_description: 'Message is empty' } }, result_total: [], result_next: [], result_time: [] })
  for (const halt of [true, '1', 'Y']) t.same(Object.keys((await call('batch', { halt, cmd: ['crm.deal.list', 'crm.deal.list'] })).body.result.result_error), ['0'], `halt ${halt}`)
  t.same(Object.keys((await call('batch', { halt: 'N', cmd: ['crm.deal.list', 'crm.deal.list'] })).body.result.result_error), ['0', '1'])
  t.match(await call('batch', {}), { status: 400, body: { error: 'ERROR_BATCH_EMPTY' } })
  const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`m${i}`, `${NOTIFY}?botId=511&dialogId=chat1`]))
  t.match(await call('batch', { cmd: many }), { status: 400, body: { error: 'ERROR_BATCH_LENGTH_EXCEEDED' } })
})
