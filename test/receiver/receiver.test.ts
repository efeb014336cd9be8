import { resolve } from 'node:path'
import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { pino } from 'pino'
import { createReceiver } from '../../src/receiver/receiver.ts'
import { exampleBot } from '../../src/example-bot.ts'
import { Router } from '../../src/router/router.ts'
import { ManualClock } from '../fakes/manual-clock.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { APP_TOKEN, eventually, readFixture, SECRET_KEY, TEST_WORKER } from '../helpers.ts'

const body = readFixture('bitrix/imbot_v2_message_add_webhook.body.txt').replaceAll('831c76b092f9f135d9b6b36c3a720757', APP_TOKEN)
const FORM = 'application/x-www-form-urlencoded'
const logger = pino({ level: 'silent' })
const secretKey = SECRET_KEY

t.test('the framework-free door answers every case of the HTTP contract', async (t) => {
  const store = new MemoryStore()
  const receiver = createReceiver({ tokens: [APP_TOKEN], store, secretKey, logger, bodyLimit: 8192, worker: TEST_WORKER })
  t.same(await receiver.handle({ body, contentType: FORM }), { status: 503, body: { error: 'INBOX_UNAVAILABLE', message: 'the receiver is not started' } }, 'nothing is taken before start')
  const starting = receiver.start()
  t.equal(receiver.start(), starting, 'started once')
  await starting
  t.teardown(() => receiver.close())
  const texts: string[] = []
  receiver.on('ONIMBOTV2MESSAGEADD', (event) => void texts.push(event.data.message.text))
  t.same(await receiver.handle({ body, contentType: 'Application/X-WWW-Form-Urlencoded; charset=UTF-8' }), { status: 200, body: { ok: true } })
  t.same(await receiver.handle({ body: Buffer.from(body.replace('Hello', 'Bye')), contentType: FORM }), { status: 200, body: { ok: true } }, 'a Buffer body')
  t.match(await receiver.handle({ body, contentType: undefined }), { status: 415, body: { error: 'UNSUPPORTED_MEDIA_TYPE' } })
  t.match(await receiver.handle({ body: `${body}&pad=${'x'.repeat(8192)}`, contentType: FORM }), { status: 413, body: { error: 'BODY_TOO_LARGE' } })
  t.match(await receiver.handle({ body: '{', contentType: 'application/json' }), { status: 400, body: { error: 'MALFORMED_BODY', message: 'the body is not valid JSON' } })
  t.match(await receiver.handle({ body: 'null', contentType: 'application/json' }), { status: 400, body: { error: 'NOT_AN_EVENT' } })
  t.match(await receiver.handle({ body: body.replace('event=', 'evnt='), contentType: FORM }), { status: 400, body: { error: 'NOT_AN_EVENT', message: /event type cannot be read/ } })
  t.match(await receiver.handle({ body: `${body}&auth[application_token][x]=1`, contentType: FORM }), { status: 400, body: { error: 'MALFORMED_BODY', message: /application_token\] cannot be read/ } })
  t.match(await receiver.handle({ body: '{"event":"ONIMBOTV2MESSAGEADD","auth":"x"}', contentType: 'application/json' }), { status: 400, body: { error: 'MALFORMED_BODY' } })
  t.match(await receiver.handle({ body: body.replaceAll(APP_TOKEN, 'wrong'), contentType: FORM }), { status: 401, body: { error: 'INVALID_TOKEN' } })
  t.match(await receiver.handle({ body: body.replace('auth%5Bapplication_token%5D=', 'auth%5Bx%5D='), contentType: FORM }), { status: 401, body: { error: 'MISSING_TOKEN' } })
  // Off its schema: accepted (Bitrix24 never resends), then kept in the dead letter by the worker.
  t.same(await receiver.handle({ body: body.replace('message%5D%5Bid%5D=', 'message%5D%5Bid%5D=x'), contentType: FORM }), { status: 200, body: { ok: true } })
  await eventually(() => texts.length === 2 && store.inStatus('dead').length === 1)
  t.same(texts.sort(), ['Bye bot!', 'Hello bot!'])
  t.match(store.inStatus('dead')[0], { type: 'ONIMBOTV2MESSAGEADD', bodyKind: 'form', error: /\/data\/message\/id/ })
  t.match(await receiver.health(), { events: { accepted: 3, rejected: 1 } })
  store.failing = true
  t.match(await receiver.handle({ body: body.replace('Hello', 'Later'), contentType: FORM }), { status: 503, body: { error: 'INBOX_UNAVAILABLE' } })
})

t.test('closes once; closing a receiver never started does nothing; beginClose stops the intake first', async (t) => {
  const idle = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), secretKey, logger })
  await idle.close()
  t.same(idle.ready(), { ready: false, reason: 'starting' })
  const store = new MemoryStore()
  const receiver = createReceiver({ tokens: [APP_TOKEN], store, secretKey, logger })
  const starting = receiver.start()
  t.same(receiver.ready(), { ready: false, reason: 'starting' }, 'not ready before the key is checked')
  t.match(await receiver.handle({ body, contentType: FORM }), { status: 503, body: { message: 'the receiver is starting' } })
  await starting
  t.same(receiver.ready(), { ready: true, reason: null })
  await receiver.beginClose()
  t.same(receiver.ready(), { ready: false, reason: 'closing' })
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 200, 'a webhook in flight while closing is still stored')
  const closing = receiver.close()
  t.equal(receiver.close(), closing)
  await closing
  t.ok(store.closed)
})

t.test('routers compose: a feature written as its own router plugs into a receiver', async (t) => {
  const receiver = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), secretKey, logger, worker: TEST_WORKER })
  const seen: string[] = []
  const feature = new Router().on('ONIMBOTV2MESSAGEADD', () => void seen.push('feature'))
  t.equal(receiver.use(feature).use(exampleBot()), receiver, 'use chains')
  receiver.onAny(() => void seen.push('own'))
  const errors: unknown[] = []
  receiver.onError((error) => void errors.push(error))
  await receiver.start()
  t.teardown(() => receiver.close())
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 200)
  // The example bot answers through the event's bot tokens, at a portal that does not exist here.
  await eventually(() => errors.length > 0, 10000)
  t.same(seen.slice(0, 2), ['own', 'feature'], "the receiver's own handlers first, then the routers it uses")
  t.match(errors[0], { name: 'BitrixError' }, "a used router's failure reaches the receiver's onError")
  t.throws(() => feature.use(feature), /cannot use itself/)
})

t.test("the handler timeout is the worker's, given once: it holds for the receiver's handlers and its routers'; onUnknown hears what no schema knows", async (t) => {
  const store = new MemoryStore()
  const receiver = createReceiver({ tokens: [APP_TOKEN], store, secretKey, logger, worker: { ...TEST_WORKER, handlerTimeoutMs: 50, maxAttempts: 1 } })
  const never = () => new Promise<void>(() => {})
  const feature = new Router().on('ONIMBOTV2MESSAGEADD', never)
  const unknown: string[] = []
  t.equal(receiver.on('ONIMBOTV2MESSAGEADD', never).use(feature).onUnknown((event) => void unknown.push(event.type)), receiver, 'each chains on the receiver')
  const errors: unknown[] = []
  receiver.onError((error) => void errors.push(error))
  await receiver.start()
  t.teardown(() => receiver.close())
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 200)
  t.equal((await receiver.handle({ body: body.replace('ONIMBOTV2MESSAGEADD', 'ONCRMDEALADD'), contentType: FORM })).status, 200)
  await eventually(() => store.inStatus('dead').length === 1 && unknown.length === 1)
  t.match(errors, [{ name: 'HandlerTimeoutError', message: 'the handler did not finish within 50 ms' }, { name: 'HandlerTimeoutError' }], "the receiver's handler and its router's, each past 50 ms")
  t.same(unknown, ['ONCRMDEALADD'])
  // @ts-expect-error a misspelled event type does not compile
  t.throws(() => receiver.on('ONIMBOTV2MESSAGEAD', () => {}), TypeError)
})

t.test('before it starts, health says so and counts nothing', async (t) => {
  const receiver = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), secretKey, logger })
  t.match(await receiver.health(), { status: 'degraded', ready: false, reason: 'starting', events: { accepted: 0, duplicates: 0, rejected: 0, failed: 0, inFlight: 0 }, lastEventAt: null, inbox: null, poller: null })
})

t.test('keeps its embedded store under ./data by default, and logs a line per event unless told not to', async (t) => {
  const cwd = process.cwd()
  process.chdir(t.testdir())
  t.teardown(() => process.chdir(cwd))
  const lines: string[] = []
  const quiet = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
  const receiver = createReceiver({ tokens: [APP_TOKEN], logger: quiet, logEvents: false })
  await receiver.start()
  let handled = 0
  receiver.onAny(() => void handled++)
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 200)
  await eventually(() => handled === 1)
  await receiver.close()
  t.ok(existsSync('data/inbox.db'))
  t.ok(existsSync('data/secret.key'), 'the key that seals credentials, generated beside it')
  t.notOk(lines.some((line) => line.includes('"msg":"event"')), 'no event line')
})

t.test('appends one line per handled event to eventsFile', async (t) => {
  const path = `${t.testdir()}/events.jsonl`
  const receiver = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), secretKey, logger, eventsFile: path })
  await receiver.start()
  t.teardown(() => receiver.close())
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 200)
  await eventually(() => existsSync(path) && readFileSync(path, 'utf8').endsWith('\n'))
  t.match(JSON.parse(readFileSync(path, 'utf8')), { event: { type: 'ONIMBOTV2MESSAGEADD' }, delivery: { source: 'webhook' }, key: /^hook:/ })
})

t.test('a key given for an inbox sealed under its key file says so, naming the file', async (t) => {
  const dataDir = t.testdir()
  const first = createReceiver({ tokens: [APP_TOKEN], dataDir, logger, worker: TEST_WORKER })
  await first.start()
  await first.close()
  const given = createReceiver({ tokens: [APP_TOKEN], dataDir, secretKey: Buffer.alloc(32, 1), logger, worker: TEST_WORKER })
  await t.rejects(given.start(), {
    name: 'ConfigError',
    message: `secretKey is not the key that sealed the credentials in this store: give the key they were sealed with; the key file ${resolve(dataDir, 'secret.key')} opens them: leave secretKey unset, or set it to that file's key`,
  })
  await given.close()
})

t.test('a store of its own needs the key; a key that cannot open what is stored stops the start', async (t) => {
  t.throws(() => createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), logger }), { name: 'ConfigError', message: /^secretKey: / })
  t.throws(() => createReceiver({ tokens: [APP_TOKEN], secretKey: 'short', logger }), { name: 'ConfigError', message: /secretKey/ })
  const dataDir = t.testdir()
  // It stores and handles nothing: the event waits for the next start.
  const first = createReceiver({ tokens: [APP_TOKEN], dataDir, secretKey: 'ab'.repeat(32), logger, worker: { ...TEST_WORKER, concurrency: 0 } })
  await first.start()
  t.equal((await first.handle({ body, contentType: FORM })).status, 200)
  await first.close()
  const wrong = createReceiver({ tokens: [APP_TOKEN], dataDir, secretKey: Buffer.alloc(32, 1), logger, worker: TEST_WORKER })
  await t.rejects(wrong.start(), { name: 'ConfigError', message: /^secretKey is not the key that sealed the credentials in this store: give the key they were sealed with$/ })
  t.same(wrong.ready(), { ready: false, reason: 'starting' })
  await wrong.close()
  const right = createReceiver({ tokens: [APP_TOKEN], dataDir, secretKey: Buffer.from('ab'.repeat(32), 'hex'), logger, worker: TEST_WORKER })
  let handled = 0
  right.onAny(() => void handled++)
  await right.start()
  await eventually(() => handled === 1)
  await right.close()
})

t.test('a pinned token holder cannot store an event as another portal', async (t) => {
  const store = new MemoryStore()
  const receiver = createReceiver({ tokens: [`other-member:${APP_TOKEN}`], store, secretKey, logger, worker: TEST_WORKER })
  await receiver.start()
  t.teardown(() => receiver.close())
  t.match(await receiver.handle({ body, contentType: FORM }), { status: 401, body: { error: 'INVALID_TOKEN' } })
  const claimed = body.replace(/auth%5Bmember_id%5D=[^&]*/, 'auth%5Bmember_id%5D=other-member')
  t.equal((await receiver.handle({ body: claimed, contentType: FORM })).status, 200)
  t.equal(store.rows.length, 1)
  t.equal(store.rows[0]?.portal.memberId, 'other-member', 'stored as the portal the token is pinned to')
})

t.test('a key that cannot be checked yet is tried again; a retry under way when the receiver closes starts nothing', async (t) => {
  // The retries wait on a clock of the test's: their five seconds pass when it says so.
  const clock = new ManualClock()
  // Both receivers fail their first check (the store's meta cannot be read), and their retry is
  // held until they are closed: one's then succeeds, the other's fails again.
  const setup = (retryFails: boolean) => {
    const store = new MemoryStore()
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const state = { checks: 0, subscribed: 0, settled: false, release }
    const get = store.meta.get
    store.meta.get = async (key) => {
      if (++state.checks === 1) throw new Error('not readable yet')
      await held
      if (retryFails) {
        state.settled = true
        throw new Error('still not readable')
      }
      return get(key)
    }
    // The check it then leaves would go to a closed store: taken as written.
    store.meta.set = async () => void (state.settled = true)
    const onAvailable = store.queue.onAvailable
    store.queue.onAvailable = (listener) => (state.subscribed++, onAvailable(listener))
    return { receiver: createReceiver({ tokens: [APP_TOKEN], store, secretKey, logger, worker: TEST_WORKER, clock }), state }
  }
  const succeeds = setup(false)
  const fails = setup(true)
  for (const { receiver } of [succeeds, fails]) {
    await receiver.start()
    t.same(receiver.ready(), { ready: false, reason: 'starting' })
  }
  t.equal(clock.timers, 2, 'each waits to try again')
  clock.advance(4999)
  t.same([succeeds.state.checks, fails.state.checks], [1, 1], 'not before five seconds')
  clock.advance(1)
  await eventually(() => succeeds.state.checks === 2 && fails.state.checks === 2)
  for (const { receiver, state } of [succeeds, fails]) {
    await receiver.close()
    state.release()
  }
  // Both retries have come to their last step, and a turn of the event loop later to its end:
  // whatever they were to start or schedule, they have.
  await eventually(() => succeeds.state.settled && fails.state.settled)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(succeeds.state.subscribed, 0, 'no worker started after the close')
  t.equal(clock.timers, 0, 'no retry after the close')
  t.equal(fails.state.checks, 2)
})

t.test('closing a receiver whose key check waits to be tried again cancels the retry', async (t) => {
  const clock = new ManualClock()
  const store = new MemoryStore()
  let checks = 0
  store.meta.get = async () => {
    checks++
    throw new Error('not readable yet')
  }
  const receiver = createReceiver({ tokens: [APP_TOKEN], store, secretKey, logger, worker: TEST_WORKER, clock })
  await receiver.start()
  t.equal(clock.timers, 1, 'a retry waits')
  await receiver.close()
  t.equal(clock.timers, 0, 'cancelled')
  clock.advance(60_000)
  t.equal(checks, 1, 'never tried again')
})

t.test('metrics() gives the framework-free users what /metrics serves: every answer of the door counted', async (t) => {
  const store = new MemoryStore()
  const receiver = createReceiver({ tokens: [APP_TOKEN], store, secretKey, logger, worker: TEST_WORKER })
  t.equal(receiver.metricsContentType, 'text/plain; version=0.0.4; charset=utf-8')
  t.equal(receiver.metricsRegistry.contentType, receiver.metricsContentType)
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 503, 'not started')
  const idle = await receiver.metrics()
  t.match(idle, 'b24_events_accepted_total{door="webhook",status="503"} 1')
  t.match(idle, 'b24_store_up 0', 'no store yet')
  t.match(idle, 'b24_inbox_depth Nan')
  await receiver.start()
  t.teardown(() => receiver.close())
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 200)
  t.equal((await receiver.handle({ body: body.replaceAll(APP_TOKEN, 'wrong'), contentType: FORM })).status, 401)
  t.equal((await receiver.handle({ body, contentType: 'text/plain' })).status, 415)
  receiver.countRefusal(413)
  await eventually(async () => (await receiver.metrics()).includes('b24_events_handled_total{type="ONIMBOTV2MESSAGEADD"} 1'))
  const running = await receiver.metrics()
  t.match(running, 'b24_events_accepted_total{door="webhook",status="200"} 1')
  t.match(running, 'b24_events_accepted_total{door="webhook",status="401"} 1')
  t.match(running, 'b24_events_accepted_total{door="webhook",status="415"} 1')
  t.match(running, 'b24_events_accepted_total{door="webhook",status="413"} 1', 'a refusal the server made before handle()')
  t.match(running, 'b24_handler_duration_seconds_count{type="ONIMBOTV2MESSAGEADD"} 1')
  t.match(running, 'b24_store_up 1')
  t.match(running, 'b24_inbox_depth 0')
})
