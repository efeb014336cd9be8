import t, { type Test } from 'tap'
import type { RestSettings } from '../../src/bitrix/bitrix.ts'
import { BitrixError } from '../../src/bitrix/bitrix-error.ts'
import { RestClient, type CallOptions, type RestParams } from '../../src/bitrix/rest-client.ts'
import { oauthTarget, webhookTarget } from '../../src/bitrix/rest-target.ts'
import { MalformedBodyError } from '../../src/errors.ts'
import { polledArrival, type Arrival } from '../../src/door/arrival.ts'
import { createIngest } from '../../src/door/ingest.ts'
import { replayDeadLetter } from '../../src/worker/replay-dead-letter.ts'
import { createLogger } from '../../src/log/create-logger.ts'
import { openPoller } from '../../src/poll/open-poller.ts'
import { Poller, type PollerOptions } from '../../src/poll/poller.ts'
import { createDispatch } from '../../src/worker/create-dispatch.ts'
import { Router } from '../../src/router/router.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import { reopeningStore } from '../../src/store/reopening-store.ts'
import { openDatabase } from '../../src/store/sqlite/open-database.ts'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.ts'
import { NewerFormatError } from '../../src/store/newer-format-error.ts'
import type { Meta, Store } from '../../src/store/store.ts'
import { StoreUnavailableError } from '../../src/store/store-unavailable-error.ts'
import { Worker } from '../../src/worker/worker.ts'
import { FakeBitrix, type FakeCall } from '../fakes/fake-portal.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { captureLogs, eventually, TEST_WORKER } from '../helpers.ts'

// Message ids from a counter: no randomness, and each message its own dedup key.
let messageIds = 0
const message = (chatId: number, text: string) => ({
  message: { id: ++messageIds, chatId, authorId: 1, date: '2026-11-24T10:00:00+00:00', text, isSystem: false, uuid: '', forward: null, params: {}, viewedByOthers: false },
  chat: { id: chatId, dialogId: `chat${chatId}`, type: 'chat', name: `Chat ${chatId}`, entityType: '', owner: 1, avatar: '', color: '#ab7761' },
  user: { id: 1, active: true, name: 'John Smith', firstName: 'John', lastName: 'Smith', workPosition: '', color: '#df532d', avatar: '', gender: 'M', birthday: '', extranet: false, bot: false, connector: false, externalAuthId: 'default', status: 'online', idle: false, lastActivityDate: '2026-11-24T10:00:00+00:00', absent: false, departments: [1], phones: false, type: 'user', website: '', email: '' },
  language: 'en',
})

const silent = createLogger({ level: 'silent' })
const sealer = createSealer(Buffer.alloc(32, 7))
const isGet = (call: { method: string }) => call.method.endsWith('Event.get')
const nextOffsetOf = (call: FakeCall | undefined) => (call?.result as { nextOffset: number } | undefined)?.nextOffset

interface Handled {
  eventId: number | null
  chat: number | undefined
  text: string | undefined
  attempt: number
  source: string
}

interface Setup {
  limit?: number
  busyMs?: number
  idleMs?: number
  /** A fake portal of another setup (a restart reading the same queue). */
  fake?: FakeBitrix
  store?: Store
  /** The REST timeout (a real one: the tests hold answers back, so it is the only way out). */
  timeoutMs?: number
  retryBaseMs?: number
  retryMaxMs?: number
  /** Handlers throw for these events. */
  fails?: (text: string | undefined) => boolean
  /** Attempts before the dead letter. */
  maxAttempts?: number
}

/**
 * A fake portal, the store (in memory unless given), the ingest and a worker running a router as
 * the receiver wires them, and the poller between portal and store, with quick retries.
 */
async function setup(t: Test, options: Setup = {}) {
  const fake = options.fake ?? (await FakeBitrix.start())
  const store = options.store ?? new MemoryStore()
  const logs = captureLogs()
  const logger = createLogger({ level: 'debug' }, logs.stream)
  const handled: Handled[] = []
  const router = new Router()
  router.onAny((event, ctx) => {
    const data = event.data as { chat?: { id?: number }; message?: { text?: string } }
    if (options.fails?.(data.message?.text)) throw new Error('the handler fails')
    handled.push({ eventId: event.eventId, chat: data.chat?.id, text: data.message?.text, attempt: ctx.attempt, source: ctx.source })
  })
  const rest: RestSettings = { webhook: webhookTarget(fake.webhookUrl), botId: null, botToken: null, timeoutMs: options.timeoutMs ?? 5000 }
  const ingest = createIngest(store, sealer)
  const dispatch = createDispatch({ router, sinks: [], logger, handlerTimeoutMs: 5000, rest, sealer, seen: (key) => store.queue.seen(key) })
  const worker = new Worker(store.queue, dispatch, logger, { ...TEST_WORKER, maxAttempts: options.maxAttempts ?? TEST_WORKER.maxAttempts })
  const poll = { mode: 'im' as const, withUserEvents: false, limit: options.limit ?? 10, busyMs: options.busyMs ?? 5, idleMs: options.idleMs ?? 20 }
  const poller = openPoller(poll, rest, ingest, store, { logger, replica: 'replica-a' }, { retryBaseMs: options.retryBaseMs ?? 10, retryMaxMs: options.retryMaxMs ?? 40 })
  worker.start()
  let stopped: Promise<void> | undefined
  /** Stops the poller, then the worker (what is due is finished first): nothing is handled after. */
  const stop = () =>
    (stopped ??= (async () => {
      await poller.stop()
      await worker.stop(5000)
    })())
  t.teardown(async () => {
    await stop()
    if (!options.fake) await fake.close()
  })
  return { fake, store, ingest, worker, poller, handled, logs, stop, gets: () => fake.calls.filter(isGet) }
}

t.test('subscribes first, then stores every event with its real eventId, each call confirming what the last one returned', async (t) => {
  const { fake, store, poller, handled, gets, stop } = await setup(t, { limit: 7 })
  poller.start()
  t.match(poller.state(), { mode: 'im', state: 'starting', offset: null, received: 0, lastPollAt: null, lastError: null })
  await eventually(() => gets().length > 0)
  t.same(fake.calls.slice(0, 2).map((call) => call.method), ['im.v2.Event.subscribe', 'im.v2.Event.get'], 'subscribed first (else im.v2.Event.get reads nothing)')
  const pushed: number[] = []
  for (let i = 0; i < 30; i++) pushed.push(fake.pushUserEvent('ONIMV2MESSAGEADD', message((i % 3) + 1, `m${i}`)) as number)
  await eventually(() => handled.length === 30 && fake.unconfirmed('user').length === 0, 5000)
  t.match(poller.state(), { state: 'polling', received: 30, lastPollAt: String, lastError: null })
  await stop()
  t.same(handled.map((h) => h.eventId).sort((a, b) => (a as number) - (b as number)), pushed, 'every event, with its id')
  for (const chat of [1, 2, 3]) {
    const ids = handled.filter((h) => h.chat === chat).map((h) => h.eventId as number)
    t.same(ids, [...ids].sort((a, b) => a - b), `chat ${chat} in order`)
  }
  t.ok(handled.every((h) => h.source === 'poll'))
  const calls = gets()
  t.same(calls[0]?.params, { limit: 7 }, 'the first call has no offset: nothing stored yet')
  t.same(
    calls.slice(1).map((call) => call.params.offset),
    calls.slice(0, -1).map(nextOffsetOf),
    'each call sends the nextOffset of the one before',
  )
  const last = nextOffsetOf(calls.at(-1))
  t.equal(await store.meta.get(poller.queue), String(last), 'the last one is kept in the store')
  t.match(poller.state(), { state: 'stopped', offset: last })
})

t.test('never calls Event.get closer than the busy pause, after a failure too; pauses idleMs on an empty queue', async (t) => {
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  fake.subscribe()
  for (let i = 0; i < 5; i++) fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, `m${i}`))
  // The first Event.get fails: its retry comes after 1 ms of backoff, and must still wait out the pause.
  fake.inject('im.v2.Event.get', { status: 500, error: 'INTERNAL_SERVER_ERROR' })
  // When the poller calls, on its own clock: what it schedules, without the network's delays.
  const started: Array<{ method: string; at: number }> = []
  const real = new RestClient(webhookTarget(fake.webhookUrl), { timeoutMs: 5000 })
  const client = {
    target: real.target,
    call: (method: string, params: RestParams, options: CallOptions) => {
      started.push({ method, at: performance.now() })
      return real.call(method, params, options)
    },
  } as unknown as RestClient
  const store = new MemoryStore()
  const busyMs = 100
  const idleMs = 300
  const poller = new Poller({ mode: 'im', client, limit: 2, busyMs, idleMs, retryBaseMs: 1, retryMaxMs: 1, ingest: createIngest(store, sealer), meta: () => store.meta, leases: () => store.leases, logger: silent, owner: 'replica-a' })
  t.teardown(() => poller.stop())
  poller.start()
  // A failed call, three pages (hasMore, hasMore, the last), then two calls on the empty queue.
  await eventually(() => fake.calls.filter(isGet).length >= 6, 5000)
  await poller.stop()
  const answers = fake.calls.filter(isGet)
  const at = started.filter(isGet).map((call) => call.at)
  t.same(answers.slice(0, 6).map((call) => [call.status, (call.result as { hasMore?: boolean } | undefined)?.hasMore]), [[500, undefined], [200, true], [200, true], [200, false], [200, false], [200, false]])
  // Timers may fire up to a millisecond early: 5 ms of slack, on pauses of 100 and 300 ms. Without
  // the pacing the retry comes ~1 ms after the failure; without the idle pause, 100 ms after.
  const gaps = answers.slice(1, 6).map((_, i) => ({ gap: (at[i + 1] as number) - (at[i] as number), least: answers[i]?.result && !(answers[i]?.result as { hasMore: boolean }).hasMore ? idleMs : busyMs }))
  t.ok(
    gaps.every(({ gap, least }) => gap >= least - 5),
    `gaps ${gaps.map(({ gap, least }) => `${gap.toFixed(1)} (≥ ${least})`).join(', ')} ms`,
  )
})

t.test('across 5xx, 429, timeouts and dropped connections: backs off, none lost, none fetched or handled twice, chat order kept', async (t) => {
  const retryBaseMs = 20
  const retryMaxMs = 80
  // The REST timeout ends the held calls; a second, so that no answered call runs into it.
  const { fake, poller, handled, logs, store, worker, stop } = await setup(t, { limit: 5, busyMs: 1, idleMs: 5, timeoutMs: 1000, retryBaseMs, retryMaxMs })
  fake.subscribe()
  const pushed: number[] = []
  for (let i = 0; i < 40; i++) pushed.push(fake.pushUserEvent('ONIMV2MESSAGEADD', message((i % 4) + 1, `m${i}`)) as number)
  fake.inject('im.v2.Event.get', { status: 500, error: 'INTERNAL_SERVER_ERROR' })
  fake.inject('im.v2.Event.get', { status: 503, error: 'QUERY_LIMIT_EXCEEDED', description: 'Too many requests' })
  fake.inject('im.v2.Event.get', { status: 429, error: 'OPERATION_TIME_LIMIT' })
  // Takes effect, but its answer never comes: the REST timeout is the only way out.
  fake.inject('im.v2.Event.get', { hold: true })
  fake.inject('im.v2.Event.get', { drop: true })
  fake.inject('im.v2.Event.get', { status: 502, error: 'ERROR_UNEXPECTED_ANSWER' })
  poller.start()
  await eventually(() => handled.length >= 40, 8000)
  // A second wave, with a rate limit and more faults in the middle of it.
  fake.rateLimit(20, 2)
  for (let i = 40; i < 60; i++) pushed.push(fake.pushUserEvent('ONIMV2MESSAGEADD', message((i % 4) + 1, `m${i}`)) as number)
  fake.inject('*', { hold: true }, 2)
  fake.inject('*', { status: 500, error: 'INTERNAL_SERVER_ERROR' }, 3)
  await eventually(() => handled.length >= 60 && fake.unconfirmed('user').length === 0, 10000)
  // Stopped, and the worker finished: whatever was handled twice would be handled by now.
  await stop()
  const ids = handled.map((h) => h.eventId as number)
  t.same([...ids].sort((a, b) => a - b), pushed, 'each event once')
  const stored = (store as MemoryStore).rows.map((row) => Number((JSON.parse(row.body) as { eventId: unknown }).eventId))
  t.same(stored, pushed, 'none fetched twice: each stored once, in order (an offset is kept only once its batch is stored)')
  t.equal(worker.stats().duplicates, 0, 'no double delivery for the worker to recognise')
  for (const chat of [1, 2, 3, 4]) {
    const inChat = handled.filter((h) => h.chat === chat).map((h) => h.eventId as number)
    t.same(inChat, [...inChat].sort((a, b) => a - b), `chat ${chat} in order`)
  }
  const warnings = logs.parsed().filter((line) => line.msg === 'polling failed: retrying') as Array<{ error: string; failures: number; retryInMs: number; time: number }>
  for (const pattern of [/INTERNAL_SERVER_ERROR \(HTTP 500\)/, /QUERY_LIMIT_EXCEEDED \(HTTP 503\)/, /OPERATION_TIME_LIMIT \(HTTP 429\)/, /TIMEOUT/, /NETWORK_ERROR/, /HTTP 502/]) {
    t.ok(warnings.some((w) => pattern.test(w.error)), `retried after ${pattern}`)
  }
  // Exponential backoff with jitter, whatever the random draw: the n-th failure in a row waits
  // between half and all of min(max, base·2^(n-1)); a success starts over.
  t.same(warnings.slice(0, 6).map((w) => w.failures), [1, 2, 3, 4, 5, 6], 'six failures in a row')
  t.equal(warnings[6]?.failures, 1, 'counted afresh after a success')
  for (const w of warnings) {
    const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** (w.failures - 1))
    t.ok(w.retryInMs >= ceiling / 2 && w.retryInMs <= ceiling, `failure ${w.failures}: ${w.retryInMs} ms in [${ceiling / 2}, ${ceiling}]`)
  }
  // And it waits it: the next call reaches the portal no sooner (the network only adds to that;
  // 2 ms for clocks read to the millisecond and timers firing up to one early).
  const calls = fake.calls.filter(isGet)
  const waited = warnings.flatMap((w) => {
    const next = calls.find((call) => call.at > w.time)
    return next ? [{ waited: next.at - w.time, retryInMs: w.retryInMs }] : []
  })
  t.ok(waited.length >= 6)
  t.ok(
    waited.every((w) => w.waited >= w.retryInMs - 2),
    waited.map((w) => `${w.waited}/${w.retryInMs}`).join(', '),
  )
  t.notMatch(logs.text(), fake.webhookUrl.split('/').at(-2) as string, 'the webhook secret is never logged')
})

t.test('keeps its offset in the store: a restart resumes where it stopped, without a duplicate', async (t) => {
  const store = new MemoryStore()
  const first = await setup(t, { store })
  first.fake.subscribe()
  for (let i = 0; i < 5; i++) first.fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, `m${i}`))
  first.poller.start()
  await eventually(() => first.handled.length === 5)
  await first.stop()
  const offset = first.poller.state().offset
  t.type(offset, 'number')
  t.equal(await store.meta.get(first.poller.queue), String(offset))

  // The same portal queue read again after a restart: the fake keeps what was not confirmed.
  const second = await setup(t, { store, fake: first.fake })
  t.equal(second.poller.queue, first.poller.queue, 'the same queue')
  const before = first.fake.calls.length
  second.poller.start()
  await eventually(() => second.poller.state().state === 'polling')
  t.equal(first.fake.calls.slice(before).find(isGet)?.params.offset, offset, 'resumes from the stored offset')
  t.match(second.poller.state(), { offset })
  await second.stop()
  t.same(second.handled, [], 'nothing handled twice')
})

t.test('while the store cannot be written nothing is fetched, and the poller says why', async (t) => {
  const store = new MemoryStore()
  store.failing = true
  const { fake, poller, handled } = await setup(t, { store })
  fake.subscribe()
  const waiting = fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, 'waits at Bitrix24'))
  poller.start()
  await eventually(() => poller.state().state === 'retrying')
  t.match(poller.state(), { lastError: 'the store cannot be written' })
  t.notOk(fake.calls.some(isGet), 'no Event.get: nothing to store it in')
  t.same(fake.unconfirmed('user'), [waiting])
  store.failing = false
  await eventually(() => handled.length === 1 && fake.unconfirmed('user').length === 0)
  t.equal(handled[0]?.eventId, waiting, 'fetched once the store can keep it')
})

t.test('while the store cannot be opened nothing is fetched; the poller stops all the same', async (t) => {
  const parent = t.testdir({ data: 'a file where DATA_DIR should be' })
  const store = reopeningStore(() => openSqliteStore({ dataDir: `${parent}/data`, durability: 'process', dedupWindowMs: 60000 }), silent, 60000)
  t.teardown(() => store.close())
  const { fake, poller, stop } = await setup(t, { store })
  fake.subscribe()
  fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, 'waits at Bitrix24'))
  poller.start()
  await eventually(() => poller.state().state === 'retrying')
  t.match(poller.state(), { lastError: /cannot open the inbox in DATA_DIR/ })
  t.notOk(fake.calls.some(isGet))
  t.equal(fake.unconfirmed('user').length, 1)
  await t.resolves(stop(), 'stopping needs no store')
  t.equal(poller.state().state, 'stopped')
})

t.test('an event off its schema is stored and confirmed like any other; the worker dead-letters it', async (t) => {
  const memory = new MemoryStore()
  // The first write of the bad event fails: its batch is not confirmed, and comes again.
  let badWrites = 0
  let bad = -1
  const store: Store = {
    ...memory,
    append: async (record) => {
      if (Number((JSON.parse(record.body) as { eventId: unknown }).eventId) === bad && badWrites++ === 0) throw new StoreUnavailableError('the store cannot be written')
      return memory.append(record)
    },
    stats: () => memory.stats(),
    unavailable: () => memory.unavailable(),
    close: () => memory.close(),
  }
  const { fake, poller, worker, handled, logs } = await setup(t, { store })
  fake.subscribe()
  bad = fake.pushUserEvent('ONIMV2MESSAGEADD', { ...message(1, 'off its schema'), message: { id: 'not a number' } }) as number
  const good = fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, 'fine')) as number
  // (The batch is read as the wire shows it, its ids as strings: Number() to compare.)
  const storedIds = () => memory.rows.map((row) => Number((JSON.parse(row.body) as { eventId: unknown }).eventId))
  // At the moment a call that confirms the bad event reaches the portal: is it stored?
  const storedWhenConfirmed: boolean[] = []
  fake.onCall((call) => {
    if (isGet(call) && typeof call.params.offset === 'number' && call.params.offset > bad) storedWhenConfirmed.push(storedIds().includes(bad))
  })
  poller.start()
  await eventually(() => handled.length === 1 && memory.inStatus('dead').length === 1 && !fake.unconfirmed('user').includes(bad))
  t.equal(badWrites, 2, 'written again after the failure')
  t.match(logs.parsed().find((line) => line.msg === 'polling failed: retrying'), { error: 'the store cannot be written' })
  t.ok(storedWhenConfirmed.length > 0 && storedWhenConfirmed.every(Boolean), 'stored before every call that confirms it')
  t.equal(storedIds().filter((id) => id === bad).length, 1, 'the bad event stored once')
  t.equal(handled[0]?.eventId, good, 'the queue moves on')
  // The good one of the failed batch was stored then, and again with the batch asked for again:
  // the worker recognises the second.
  await eventually(() => worker.stats().duplicates + worker.stats().handled === storedIds().filter((id) => id === good).length)
  t.equal(handled.length, 1, 'handled once')
  const [dead] = await store.deadLetters.list()
  t.match(dead, { type: 'ONIMV2MESSAGEADD', source: 'poll', bodyKind: 'payload', attempts: 1, error: /does not match its schema/, portal: { domain: '127.0.0.1', memberId: null, clientEndpoint: `${fake.url}/rest/` }, body: { type: 'ONIMV2MESSAGEADD' } })
  t.equal(Number((dead?.body as { eventId: unknown }).eventId), bad, 'the polled event, with its eventId')
  t.match(worker.stats(), { rejected: 1, failedAttempts: 0 }, 'dead-lettered at once, never retried')
  t.match(logs.parsed().find((line) => line.level === 40 && line.inboxId === dead?.id), { type: 'ONIMV2MESSAGEADD', reason: dead?.error })
  t.match(await replayDeadLetter(store, dead!.id), { replayed: false, reason: /does not match its schema/ }, 'decoded again as a polled event: still off its schema')
})

t.test('a polled dead letter replays: decoded again as a polled event, handled as one', async (t) => {
  const store = new MemoryStore()
  let failing = true
  // One attempt: the dead letter without a retry in between (the fake store's retry timer may
  // wake it a millisecond before the record is due, and then nothing wakes it again).
  const { fake, poller, handled } = await setup(t, { store, maxAttempts: 1, fails: (text) => failing && text === 'fails its handlers' })
  fake.subscribe()
  const bad = fake.pushUserEvent('ONIMV2MESSAGEADD', { ...message(1, 'off its schema'), message: { id: 'not a number' } }) as number
  const failed = fake.pushUserEvent('ONIMV2MESSAGEADD', message(2, 'fails its handlers')) as number
  poller.start()
  await eventually(() => store.inStatus('dead').length === 2)
  const [offSchema, offHandlers] = store.inStatus('dead')
  t.match(
    [offSchema, offHandlers],
    [
      { bodyKind: 'payload', source: 'poll', attempts: 1, error: /does not match its schema/ },
      { bodyKind: 'payload', source: 'poll', attempts: 1, error: /the handler fails/ },
    ],
  )
  t.same(handled, [], 'neither handled')

  // Failed its handlers: back in line as it was.
  failing = false
  t.same(await replayDeadLetter(store, offHandlers!.id), { id: offHandlers!.id, replayed: true })
  await eventually(() => handled.length === 1)
  t.match(handled[0], { eventId: failed, source: 'poll', attempt: 1, text: 'fails its handlers' })

  // Failed to decode: once its payload decodes (what a fixed decoder would make of it; here the
  // stored payload is mended in place), the replay decodes it as the poller's door would.
  const stored = JSON.parse(offSchema!.body) as { data: Record<string, unknown> }
  offSchema!.body = JSON.stringify({ ...stored, data: message(1, 'mended') })
  t.same(await replayDeadLetter(store, offSchema!.id), { id: offSchema!.id, replayed: true })
  await eventually(() => handled.length === 2)
  t.match(handled[1], { eventId: bad, source: 'poll', attempt: 1, text: 'mended' })
  t.same(await store.deadLetters.list(), [])
})

t.test('nothing is confirmed before its batch is stored: a batch the store could not keep is asked for again', async (t) => {
  const dataDir = t.testdir()
  const sqlite = openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 60000 })
  t.teardown(() => sqlite.close())
  // Another connection to the same database: what it sees is committed.
  const other = openDatabase(dataDir)
  t.teardown(() => other.close())
  const inbox = () => other.prepare('SELECT body, status, credentials FROM inbox ORDER BY id').all() as Array<{ body: string; status: string; credentials: string | null }>
  // The first two batches cannot be stored (as a group commit fails: every record of it), the
  // first with a plain error, the second as an unwritable store says it.
  let batch = 0
  const store: Store = {
    ...sqlite,
    append: async (record) => {
      if (batch === 1) throw new Error('disk full')
      if (batch === 2) throw new StoreUnavailableError('the inbox cannot be written')
      return sqlite.append(record)
    },
  }
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  fake.subscribe()
  const pushed = [1, 2, 3].map((i) => fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, `m${i}`)) as number)
  // At each call, before it takes effect: how many events the database holds, committed.
  const committed: Array<{ offset: unknown; stored: number }> = []
  fake.onCall(async (call) => {
    if (!isGet(call)) return
    batch++
    committed.push({ offset: call.params.offset, stored: inbox().length })
  })
  const logs = captureLogs()
  const ingest = createIngest(store, sealer)
  const poller = openPoller({ mode: 'im', limit: 10, busyMs: 1, idleMs: 5 }, { webhook: webhookTarget(fake.webhookUrl), botId: null, botToken: null, timeoutMs: 5000 }, ingest, store, { logger: createLogger({ level: 'debug' }, logs.stream), replica: 'replica-a' }, { retryBaseMs: 1, retryMaxMs: 2 })
  t.teardown(() => poller.stop())
  poller.start()
  await eventually(() => committed.length >= 4)
  await poller.stop()
  t.same(
    committed.slice(0, 4),
    [
      { offset: undefined, stored: 0 },
      { offset: undefined, stored: 0 },
      { offset: undefined, stored: 0 },
      { offset: (pushed.at(-1) as number) + 1, stored: 3 },
    ],
    'the same batch asked for again until it is stored; its offset sent only once it is committed',
  )
  t.same(logs.parsed().filter((line) => line.msg === 'polling failed: retrying').map((line) => line.error), ['disk full', 'the inbox cannot be written'])
  t.same(
    inbox().map(({ body, status, credentials }) => ({ eventId: Number((JSON.parse(body) as { eventId: unknown }).eventId), status, credentials })),
    pushed.map((eventId) => ({ eventId, status: 'pending', credentials: null })),
    'each event stored once, in order, pending',
  )
  t.same(
    (await sqlite.queue.claim(10)).map((record) => Number((JSON.parse(record.body) as { eventId: unknown }).eventId)),
    [pushed[0]],
    'in order: the chat hands out its oldest first',
  )
})

let replicas = 0

/** A poller over a scripted client: each call gets what `answer` gives (a value, or an error to throw). */
function scripted<S extends Store = MemoryStore>(t: Test, answer: (method: string, params: RestParams) => unknown, options: Partial<PollerOptions> & { store?: S } = {}) {
  const calls: Array<{ method: string; params: RestParams }> = []
  const store = options.store ?? (new MemoryStore() as unknown as S)
  const client = {
    target: webhookTarget('https://p.bitrix24.com/rest/1/s3cr3t/'),
    call: async (method: string, params: RestParams, { signal }: { signal: AbortSignal }) => {
      calls.push({ method, params })
      const answered = answer(method, params)
      if (answered instanceof Error) throw answered
      // `hang`: a call that waits until the poller aborts it.
      if (answered === hang) return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
      return answered
    },
  } as unknown as RestClient
  const logs = captureLogs()
  const poller = new Poller({
    mode: 'im',
    client,
    limit: 5,
    busyMs: 1,
    idleMs: 1,
    retryBaseMs: 1,
    retryMaxMs: 2,
    ingest: createIngest(store, sealer),
    meta: () => store.meta,
    leases: () => store.leases,
    logger: createLogger({ level: 'debug' }, logs.stream),
    // Each poller a replica of its own, as in a receiver.
    owner: `replica-${++replicas}`,
    ...options,
  })
  t.teardown(() => poller.stop())
  return { poller, calls, store, logs, gets: () => calls.filter(isGet) }
}

const hang = Symbol('hang')
/** Answers in turn, then `then` for ever after. */
const inTurn = (answers: unknown[], then: unknown = hang) => () => (answers.length > 0 ? answers.shift() : then)
const empty = (nextOffset: number) => ({ events: [], nextOffset, hasMore: false })

t.test('an answer that is not an Event.get result is retried, never confirmed', async (t) => {
  const { poller, calls, store, logs } = scripted(t, inTurn([true, { events: 'no' }, empty(7)]))
  poller.start()
  await eventually(() => calls.length === 4)
  t.equal(await store.meta.get(poller.queue), '7')
  t.same(calls.slice(0, 3).map((call) => [call.method, call.params.offset]), [['im.v2.Event.subscribe', undefined], ['im.v2.Event.get', undefined], ['im.v2.Event.get', undefined]])
  t.equal(calls[3]?.params.offset, 7)
  t.match(logs.parsed().find((line) => line.msg === 'polling failed: retrying'), { error: /ERROR_UNEXPECTED_ANSWER.*not an Event.get result/ })
})

t.test('what is not even an event is stored and confirmed all the same; the worker dead-letters it', async (t) => {
  const notAnId = { eventId: 'x', type: 'ONIMV2JOINCHAT', date: 'd', data: { dialogId: 'chat5' } }
  const { poller, calls, store, logs } = scripted(t, inTurn([true, { events: [42, null, notAnId], nextOffset: 3, hasMore: false }]))
  poller.start()
  await eventually(() => calls.length === 3)
  t.equal(await store.meta.get(poller.queue), '3', 'confirmed: it is stored')
  t.equal(calls[2]?.params.offset, 3)
  t.match(store.rows, [
    { status: 'pending', type: 'UNKNOWN', source: 'poll', bodyKind: 'payload', body: '{"value":42}', chatKey: 'solo:p.bitrix24.com:UNKNOWN', credentials: null },
    { status: 'pending', type: 'UNKNOWN', source: 'poll', bodyKind: 'payload', body: '{"value":null}', chatKey: 'solo:p.bitrix24.com:UNKNOWN', credentials: null },
    { status: 'pending', type: 'ONIMV2JOINCHAT', source: 'poll', bodyKind: 'payload', body: JSON.stringify(notAnId), chatKey: 'chat:p.bitrix24.com:chat5', credentials: null },
  ])
  t.match(poller.state(), { state: 'polling', received: 3, lastError: null })
  t.notOk(logs.parsed().some((line) => (line.level as number) >= 40), 'nothing for the poller to warn about')

  // The worker decodes them, and keeps what does not decode in the dead letter.
  const worker = new Worker(store.queue, createDispatch({ router: new Router(), sinks: [], logger: silent, handlerTimeoutMs: 1000, sealer, seen: (key) => store.queue.seen(key) }), silent, TEST_WORKER)
  worker.start()
  t.teardown(() => worker.stop(1000))
  await eventually(() => store.inStatus('dead').length === 3)
  const dead = await store.deadLetters.list()
  t.match(dead, [
    { type: 'UNKNOWN', source: 'poll', bodyKind: 'payload', attempts: 1, error: /^not a polled event/ },
    { type: 'UNKNOWN', source: 'poll', bodyKind: 'payload', attempts: 1, error: /^not a polled event/, body: { value: null } },
    { type: 'ONIMV2JOINCHAT', source: 'poll', body: { eventId: 'x' }, attempts: 1, error: /^not a polled event.*eventId/ },
  ])
  t.same(dead[0]?.body, { value: '42' }, 'kept whole (as the batch decoder reads it: a string leaf), named as no event')
})

t.test('the poller hands each event to the ingest as its arrival; whatever the ingest refuses leaves the batch unconfirmed', async (t) => {
  // String leaves: what the batch decoder makes of any polled event (what is handed over).
  const events = [{ eventId: '1', type: 'ONIMV2MESSAGEADD', date: 'd', data: { chat: { id: '5' } } }, 'no event']
  const arrivals: Arrival[] = []
  let offered = 0
  const ingest = {
    accept: async (arrival: Arrival) => {
      // The first batch refused, with a ReceiverError (what the poller once took for "kept in the
      // dead letter"): no reason to confirm it.
      if (++offered <= events.length) throw new MalformedBodyError('refused')
      arrivals.push(arrival)
    },
  }
  const { poller, store, gets, logs } = scripted(t, inTurn([true, { events, nextOffset: 2, hasMore: false }, { events, nextOffset: 2, hasMore: false }]), { ingest })
  poller.start()
  await eventually(() => gets().length === 3)
  t.same(
    gets().map((call) => call.params.offset),
    [undefined, undefined, 2],
    'asked for again, then confirmed',
  )
  t.match(logs.parsed().filter((line) => line.msg === 'polling failed: retrying'), [{ error: 'refused', failures: 1 }])
  const portal = { domain: 'p.bitrix24.com', memberId: null, clientEndpoint: 'https://p.bitrix24.com/rest/' }
  t.same(arrivals, events.map((polled) => polledArrival(polled, portal)), 'polledArrival of each, from the portal of its REST URL')
  t.equal(await store.meta.get(poller.queue), '2')
  t.match(poller.state(), { received: 2 }, 'counted once stored')
})

t.test('imbot: sends botId, botToken (webhook auth) and withUserEvents; resubscribes when told USER_NOT_SUBSCRIBED', async (t) => {
  const notSubscribed = new BitrixError('imbot.v2.Event.get', 'USER_NOT_SUBSCRIBED', 400, 'User not subscribed')
  const { poller, calls } = scripted(t, inTurn([true, notSubscribed, true, empty(1)]), { mode: 'imbot', botId: 456, botToken: 'bt', withUserEvents: true })
  poller.start()
  await eventually(() => calls.length === 5)
  const get = { method: 'imbot.v2.Event.get', params: { limit: 5, botId: 456, botToken: 'bt', withUserEvents: true } }
  t.same(calls.slice(0, 5), [{ method: 'im.v2.Event.subscribe', params: {} }, get, { method: 'im.v2.Event.subscribe', params: {} }, get, { method: get.method, params: { ...get.params, offset: 1 } }])
  t.equal(poller.queue, 'poll:imbot:p.bitrix24.com:1:bot456')
})

t.test('imbot without user events does not subscribe; with OAuth it sends no botToken', async (t) => {
  const { poller, calls } = scripted(t, inTurn([empty(1)]), { mode: 'imbot', botId: 456, botToken: 'bt' })
  poller.start()
  await eventually(() => calls.length === 2)
  t.same(calls[0], { method: 'imbot.v2.Event.get', params: { limit: 5, botId: 456, botToken: 'bt' } })
  t.notOk(calls.some((call) => call.method === 'im.v2.Event.subscribe'))

  const seen: RestParams[] = []
  const oauth = new RestClient(oauthTarget({ client_endpoint: 'https://p.bitrix24.com/rest/', access_token: 'x' })!, { timeoutMs: 1 })
  const store = new MemoryStore()
  const client = { target: oauth.target, call: async (_method: string, params: RestParams) => (seen.push(params), empty(1)) } as unknown as RestClient
  const poller2 = new Poller({ mode: 'imbot', client, botId: 456, botToken: 'bt', limit: 1, busyMs: 1, idleMs: 60000, retryBaseMs: 1, retryMaxMs: 1, ingest: createIngest(store, sealer), meta: () => store.meta, leases: () => store.leases, logger: silent, owner: 'replica-a' })
  t.equal(poller2.queue, 'poll:imbot:p.bitrix24.com:oauth:bot456', 'an OAuth poller reads the queue of its token')
  poller2.start()
  await eventually(() => seen.length === 1)
  await poller2.stop()
  t.same(seen, [{ limit: 1, botId: 456 }])
})

t.test('one reader per queue: a second poller of it stands by, and takes over when the holder stops', async (t) => {
  const store = new MemoryStore()
  let offset = 0
  const answer = () => empty(++offset)
  const first = scripted(t, answer, { store, leaseMs: 150, owner: 'replica-a' })
  const second = scripted(t, answer, { store, leaseMs: 150, owner: 'replica-b' })
  first.poller.start()
  await eventually(() => first.gets().length >= 2)
  second.poller.start()
  await eventually(() => second.poller.state().state === 'standby')
  t.match(second.poller.state(), { state: 'standby', replica: 'replica-b', reader: 'replica-a', lastError: null }, 'it names the reader')
  const firstGets = first.gets().length
  await eventually(() => first.gets().length > firstGets + 5)
  t.same(second.gets(), [], 'the second never reads while the first holds the lease')
  t.equal(first.poller.state().state, 'polling', 'the holder keeps reading (its lease renewed)')
  t.equal(first.poller.state().reader, first.poller.state().replica)
  t.equal(second.logs.parsed().filter((line) => line.msg === 'another replica reads the queue: this one stands by').length, 1, 'said once, not at every try')
  t.notOk(second.logs.parsed().some((line) => (line.level as number) >= 40), 'standing by is no failure')

  await first.poller.stop()
  t.match(first.poller.state(), { state: 'stopped', reader: null })
  const kept = Number(await store.meta.get(first.poller.queue))
  await eventually(() => second.gets().length >= 1)
  t.equal(second.gets()[0]?.params.offset, kept, 'the second takes over where the first stopped')
  await eventually(() => second.poller.state().state === 'polling')
  t.ok(second.logs.parsed().some((line) => line.msg === 'this replica reads the queue'))
})

t.test('the reader renews its lease while a call takes longer than the lease: no one takes over a live reader', async (t) => {
  const store = new MemoryStore()
  const first = scripted(t, (method) => (method === 'im.v2.Event.subscribe' ? true : hang), { store, leaseMs: 90 })
  const second = scripted(t, () => empty(1), { store, leaseMs: 90 })
  first.poller.start()
  await eventually(() => first.gets().length === 1)
  second.poller.start()
  // Twenty lease lives: the call still hangs and the lease is still the first's.
  const until = Date.now() + 1800
  await eventually(() => Date.now() >= until, 5000)
  t.equal(second.poller.state().state, 'standby')
  t.same(second.gets(), [])
  await first.poller.stop()
  await eventually(() => second.gets().length >= 1)
})

t.test("/health names the replica that reads", async (t) => {
  const store = openSqliteStore({ dataDir: t.testdir(), durability: 'process', dedupWindowMs: 60000 })
  t.teardown(() => store.close())
  const first = scripted(t, () => empty(1), { store, owner: 'replica-a' })
  const second = scripted(t, () => empty(1), { store, owner: 'replica-b' })
  first.poller.start()
  await eventually(() => first.poller.state().state === 'polling')
  second.poller.start()
  await eventually(() => second.poller.state().state === 'standby')
  t.match(first.poller.state(), { replica: 'replica-a', reader: 'replica-a' })
  t.match(second.poller.state(), { replica: 'replica-b', reader: 'replica-a' })
})

t.test('an offset a newer version stored: the poller lets the lease go, so that a replica of that version reads the queue', async (t) => {
  const store = new MemoryStore()
  // What this version's store answers for the newer offset; a newer replica reads it as its own.
  const older: Meta = { ...store.meta, get: async (key) => Promise.reject(new NewerFormatError(`the value ${key}`, 2)) }
  const first = scripted(t, () => empty(1), { store, meta: () => older, leaseMs: 90 })
  const newer = scripted(t, () => empty(1), { store, leaseMs: 90 })
  first.poller.start()
  await eventually(() => first.poller.state().state === 'retrying')
  t.match(first.poller.state(), { reader: null, lastError: /the value poll:im\S* was stored by a newer version .*upgrade this replica/ })
  t.same(first.gets(), [], 'nothing fetched: the offset is not its to use')
  newer.poller.start()
  await eventually(() => newer.poller.state().state === 'polling')
  t.equal(newer.poller.state().reader, newer.poller.state().replica, 'the newer one holds the lease')
})

t.test('a lease its holder never gave up (it crashed) is taken over once it expires', async (t) => {
  const store = new MemoryStore()
  const { poller, gets } = scripted(t, () => empty(1), { store })
  await store.leases.lease(poller.queue, 'a poller that crashed', 100)
  poller.start()
  await eventually(() => poller.state().state === 'standby')
  t.same(gets(), [])
  await eventually(() => gets().length >= 1)
  await eventually(() => poller.state().state === 'polling')
})

t.test('a fatal error stops it for good: state failed, the reason kept, said once, nothing more called', async (t) => {
  const fatal = new BitrixError('im.v2.Event.get', 'INVALID_CREDENTIALS', 401, 'Invalid request credentials')
  const { poller, calls, logs } = scripted(t, inTurn([true, fatal], empty(1)))
  poller.start()
  await eventually(() => poller.state().state === 'failed')
  t.equal(poller.fatal, 'the poller stopped: im.v2.Event.get: INVALID_CREDENTIALS (HTTP 401): Invalid request credentials')
  t.match(poller.state(), { state: 'failed', lastError: /INVALID_CREDENTIALS/ })
  const errors = logs.parsed().filter((line) => line.level === 50)
  t.match(errors, [{ code: 'INVALID_CREDENTIALS', status: 401, msg: /Retrying cannot help/ }])
  t.equal(calls.length, 2)
  await poller.stop()
  t.equal(poller.state().state, 'failed', 'stopping keeps the failure')
  t.equal(calls.length, 2, 'nothing called after')
})

t.test('stops cleanly in a pause and in a call; a poller never started stops too', async (t) => {
  const idle = scripted(t, inTurn([true, empty(1)]), { idleMs: 60000 })
  idle.poller.start()
  await eventually(() => idle.poller.state().state === 'polling')
  await idle.poller.stop()
  t.equal(idle.poller.state().state, 'stopped')
  const hanging = scripted(t, () => hang)
  hanging.poller.start()
  await eventually(() => hanging.calls.length === 1)
  await hanging.poller.stop()
  t.equal(hanging.poller.state().state, 'stopped')
  t.equal(hanging.calls.length, 1)
  const never = scripted(t, () => hang)
  await never.poller.stop()
  t.equal(never.poller.state().state, 'stopped')
  t.same(never.calls, [])
})
