import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { pino } from 'pino'
import { createReceiver } from '../../src/receiver/receiver.ts'
import { exampleBot } from '../../src/example-bot.ts'
import { Router } from '../../src/router/router.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { APP_TOKEN, eventually, readFixture, TEST_WORKER } from '../helpers.ts'

const body = readFixture('bitrix/imbot_v2_message_add_webhook.body.txt').replaceAll('831c76b092f9f135d9b6b36c3a720757', APP_TOKEN)
const FORM = 'application/x-www-form-urlencoded'
const logger = pino({ level: 'silent' })

t.test('the framework-free door answers every case of the HTTP contract', async (t) => {
  const store = new MemoryStore()
  const receiver = createReceiver({ tokens: [APP_TOKEN], store, logger, bodyLimit: 8192, worker: TEST_WORKER })
  t.same(await receiver.handle({ body, contentType: FORM }), { status: 503, body: { error: 'INBOX_UNAVAILABLE', message: 'the receiver is not started' } }, 'nothing is taken before start')
  receiver.start()
  receiver.start()
  t.teardown(() => receiver.close())
  const texts: string[] = []
  receiver.on('ONIMBOTV2MESSAGEADD', (event) => void texts.push(event.data.message.text))
  t.same(await receiver.handle({ body, contentType: 'Application/X-WWW-Form-Urlencoded; charset=UTF-8' }), { status: 200, body: { ok: true } })
  t.same(await receiver.handle({ body: Buffer.from(body.replace('Hello', 'Bye')), contentType: FORM }), { status: 200, body: { ok: true } }, 'a Buffer body')
  t.match(await receiver.handle({ body, contentType: undefined }), { status: 415, body: { error: 'UNSUPPORTED_MEDIA_TYPE' } })
  t.match(await receiver.handle({ body: `${body}&pad=${'x'.repeat(8192)}`, contentType: FORM }), { status: 413, body: { error: 'BODY_TOO_LARGE' } })
  t.match(await receiver.handle({ body: '{', contentType: 'application/json' }), { status: 400, body: { error: 'MALFORMED_BODY', message: 'the body is not valid JSON' } })
  t.match(await receiver.handle({ body: 'null', contentType: 'application/json' }), { status: 400, body: { error: 'NOT_AN_EVENT' } })
  t.match(await receiver.handle({ body: body.replaceAll(APP_TOKEN, 'wrong'), contentType: FORM }), { status: 401, body: { error: 'INVALID_TOKEN' } })
  t.match(await receiver.handle({ body: body.replace('message%5D%5Bid%5D=', 'message%5D%5Bid%5D=x'), contentType: FORM }), { status: 422, body: { error: 'INVALID_EVENT', issues: [{ path: '/data/message/id' }] } })
  await eventually(() => texts.length === 2)
  t.same(texts.sort(), ['Bye bot!', 'Hello bot!'])
  store.failing = true
  t.match(await receiver.handle({ body: body.replace('Hello', 'Later'), contentType: FORM }), { status: 503, body: { error: 'INBOX_UNAVAILABLE' } })
})

t.test('closes once; closing a receiver never started does nothing; beginClose stops the intake first', async (t) => {
  const idle = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), logger })
  await idle.close()
  t.same(idle.ready(), { ready: false, reason: 'starting' })
  const store = new MemoryStore()
  const receiver = createReceiver({ tokens: [APP_TOKEN], store, logger })
  receiver.start()
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
  const receiver = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), logger, worker: TEST_WORKER })
  const seen: string[] = []
  const feature = new Router().on('ONIMBOTV2MESSAGEADD', () => void seen.push('feature'))
  t.equal(receiver.use(feature).use(exampleBot()), receiver, 'use chains')
  receiver.onAny(() => void seen.push('own'))
  const errors: unknown[] = []
  receiver.onError((error) => void errors.push(error))
  receiver.start()
  t.teardown(() => receiver.close())
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 200)
  // The example bot answers through the event's bot tokens, at a portal that does not exist here.
  await eventually(() => errors.length > 0, 10000)
  t.same(seen.slice(0, 2), ['own', 'feature'], "the receiver's own handlers first, then the routers it uses")
  t.match(errors[0], { name: 'BitrixError' }, "a used router's failure reaches the receiver's onError")
  t.throws(() => feature.use(feature), /cannot use itself/)
})

t.test('before it starts, health says so and counts nothing', async (t) => {
  const receiver = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), logger })
  t.match(await receiver.health(), { status: 'degraded', ready: false, reason: 'starting', events: { accepted: 0, duplicates: 0, rejected: 0, failed: 0, inFlight: 0 }, lastEventAt: null, inbox: null, poller: null })
})

t.test('keeps its embedded store under ./data by default, and logs a line per event unless told not to', async (t) => {
  const cwd = process.cwd()
  process.chdir(t.testdir())
  t.teardown(() => process.chdir(cwd))
  const lines: string[] = []
  const quiet = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) })
  const receiver = createReceiver({ tokens: [APP_TOKEN], logger: quiet, logEvents: false })
  receiver.start()
  let handled = 0
  receiver.onAny(() => void handled++)
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 200)
  await eventually(() => handled === 1)
  await receiver.close()
  t.ok(existsSync('data/inbox.db'))
  t.notOk(lines.some((line) => line.includes('"msg":"event"')), 'no event line')
})

t.test('appends one line per handled event to eventsFile', async (t) => {
  const path = `${t.testdir()}/events.jsonl`
  const receiver = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), logger, eventsFile: path })
  receiver.start()
  t.teardown(() => receiver.close())
  t.equal((await receiver.handle({ body, contentType: FORM })).status, 200)
  await eventually(() => existsSync(path) && readFileSync(path, 'utf8').endsWith('\n'))
  t.match(JSON.parse(readFileSync(path, 'utf8')), { event: { type: 'ONIMBOTV2MESSAGEADD' }, delivery: { source: 'webhook' }, key: /^hook:/ })
})
