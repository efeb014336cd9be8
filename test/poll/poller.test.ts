import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { RestSettings } from '../../src/bitrix/bitrix.ts'
import { RestClient } from '../../src/bitrix/rest-client.ts'
import { oauthTarget, webhookTarget } from '../../src/bitrix/rest-target.ts'
import type { InboundEvent } from '../../src/event/inbound-event.ts'
import { replayDeadLetter } from '../../src/inbox/replay-dead-letter.ts'
import { createLogger } from '../../src/log/create-logger.ts'
import { openPipeline } from '../../src/pipeline/open-pipeline.ts'
import { openPoller } from '../../src/poll/open-poller.ts'
import { Poller, type PollerOptions } from '../../src/poll/poller.ts'
import { Router } from '../../src/router/router.ts'
import { FakeBitrix, type FakeBitrixOptions } from '../fake-portal.ts'
import { captureLogs, eventually, TEST_SETTINGS } from '../helpers.ts'

const message = (chatId: number, text: string, id = Math.floor(Math.random() * 1e9)) => ({
  message: { id, chatId, authorId: 1, date: '2026-11-24T10:00:00+00:00', text, isSystem: false, uuid: '', forward: null, params: {}, viewedByOthers: false },
  chat: { id: chatId, dialogId: `chat${chatId}`, type: 'chat', name: `Chat ${chatId}`, entityType: '', owner: 1, avatar: '', color: '#ab7761' },
  user: { id: 1, active: true, name: 'John Smith', firstName: 'John', lastName: 'Smith', workPosition: '', color: '#df532d', avatar: '', gender: 'M', birthday: '', extranet: false, bot: false, connector: false, externalAuthId: 'default', status: 'online', idle: false, lastActivityDate: '2026-11-24T10:00:00+00:00', absent: false, departments: [1], phones: false, type: 'user', website: '', email: '' },
  language: 'en',
})

interface Setup {
  mode?: 'im' | 'imbot'
  withUserEvents?: boolean
  limit?: number
  busyMs?: number
  idleMs?: number
  fake?: FakeBitrixOptions
  url?: (fake: FakeBitrix) => string
  botId?: number
  botToken?: string
  dataDir?: string
  failHandler?: (event: InboundEvent['event']) => boolean
}

/** A fake portal, a real inbox and worker, and the poller between them. */
async function setup(t: Test, options: Setup = {}) {
  const fake = await FakeBitrix.start(options.fake)
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'b24-poll-'))
  const logs = captureLogs()
  const logger = createLogger({ level: 'debug' }, logs.stream)
  const handled: Array<{ eventId: number | null; type: string; chat: unknown; text: unknown; attempt: number; source: string }> = []
  const router = new Router()
  router.onAny((event, ctx) => {
    if (options.failHandler?.(event) && ctx.attempt === 1) throw new Error('first attempt fails')
    const data = event.data as { chat?: { id?: number }; message?: { text?: string } }
    handled.push({ eventId: event.eventId, type: event.type, chat: data.chat?.id, text: data.message?.text, attempt: ctx.attempt, source: ctx.source })
  })
  const rest: RestSettings = { webhook: webhookTarget(options.url?.(fake) ?? fake.webhookUrl), botId: options.botId ?? null, botToken: options.botToken ?? null, timeoutMs: 300 }
  const pipeline = openPipeline({ dataDir, ...TEST_SETTINGS, rest }, router, logger)
  const poll = { mode: options.mode ?? 'im', withUserEvents: options.withUserEvents ?? false, limit: options.limit ?? 10, busyMs: options.busyMs ?? 20, idleMs: options.idleMs ?? 40 }
  const poller = openPoller({ poll, rest }, pipeline, logger, { baseMs: 10, maxMs: 40 }) as Poller
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await poller.stop()
    await pipeline.drain(1000)
    pipeline.close()
  }
  t.teardown(async () => {
    await close()
    await fake.close()
    if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true })
  })
  const gets = () => fake.calls.filter((call) => call.method.endsWith('Event.get'))
  return { fake, poller, pipeline, handled, logs, gets, close, dataDir }
}

t.test('subscribes first, then hands every event to the handlers with its real eventId, in order per chat', async (t) => {
  const { fake, poller, handled, gets } = await setup(t, { limit: 7 })
  poller.start()
  await eventually(() => fake.calls.length > 0)
  t.equal(fake.calls[0]?.method, 'im.v2.Event.subscribe')
  const pushed: number[] = []
  for (let i = 0; i < 30; i++) pushed.push(fake.pushUserEvent('ONIMV2MESSAGEADD', message((i % 3) + 1, `m${i}`)) as number)
  await eventually(() => handled.length === 30, 5000)
  t.same(handled.map((h) => h.eventId).sort((a, b) => (a as number) - (b as number)), pushed, 'every event, with its id')
  for (const chat of [1, 2, 3]) {
    const ids = handled.filter((h) => h.chat === chat).map((h) => h.eventId as number)
    t.same(ids, [...ids].sort((a, b) => a - b), `chat ${chat} in order`)
  }
  t.ok(handled.every((h) => h.source === 'poll' && h.type === 'ONIMV2MESSAGEADD'))
  await eventually(() => fake.unconfirmed('user').length === 0, 3000)
  // Each call confirms exactly what the previous one returned.
  const offsets = gets().map((call) => call.params.offset)
  t.equal(offsets[0], undefined, 'the first call has no offset')
  t.ok(offsets.slice(1).every((offset) => typeof offset === 'number'))
  t.same(gets()[0]?.params, { limit: 7 })
  t.match(poller.state(), { mode: 'im', state: 'polling', received: 30, lastError: null })
})

t.test('never calls Event.get closer than the busy pause while hasMore', async (t) => {
  const { fake, poller, handled, gets } = await setup(t, { limit: 2, busyMs: 80, idleMs: 80 })
  fake.subscribe()
  for (let i = 0; i < 10; i++) fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, `m${i}`))
  poller.start()
  await eventually(() => handled.length === 10, 5000)
  const times = gets().map((call) => call.at)
  t.ok(times.length >= 5)
  const gaps = times.slice(1).map((at, i) => at - (times[i] as number))
  t.ok(gaps.every((gap) => gap >= 78), `gaps ${gaps.join(', ')} ms`)
})

t.test('across 5xx, 429, timeouts and dropped connections: none lost, none handled twice, chat order kept', async (t) => {
  const { fake, poller, handled, logs } = await setup(t, { limit: 5 })
  fake.subscribe()
  const pushed: number[] = []
  for (let i = 0; i < 40; i++) pushed.push(fake.pushUserEvent('ONIMV2MESSAGEADD', message((i % 4) + 1, `m${i}`)) as number)
  fake.inject('im.v2.Event.get', { status: 500, error: 'INTERNAL_SERVER_ERROR' })
  fake.inject('im.v2.Event.get', { status: 503, error: 'QUERY_LIMIT_EXCEEDED', description: 'Too many requests' })
  fake.inject('im.v2.Event.get', { status: 429, error: 'OPERATION_TIME_LIMIT' })
  fake.inject('im.v2.Event.get', { delayMs: 600 })
  fake.inject('im.v2.Event.get', { drop: true })
  fake.inject('im.v2.Event.get', { status: 502, error: 'ERROR_UNEXPECTED_ANSWER' })
  poller.start()
  await eventually(() => handled.length >= 40, 8000)
  // A second wave, with a rate limit and more faults in the middle of it.
  fake.rateLimit(20, 2)
  for (let i = 40; i < 60; i++) pushed.push(fake.pushUserEvent('ONIMV2MESSAGEADD', message((i % 4) + 1, `m${i}`)) as number)
  fake.inject('*', { delayMs: 600 }, 2)
  fake.inject('*', { status: 500, error: 'INTERNAL_SERVER_ERROR' }, 3)
  await eventually(() => handled.length >= 60, 10000)
  await new Promise((resolve) => setTimeout(resolve, 150))
  const ids = handled.map((h) => h.eventId as number)
  t.same([...ids].sort((a, b) => a - b), pushed, 'each event once')
  for (const chat of [1, 2, 3, 4]) {
    const inChat = handled.filter((h) => h.chat === chat).map((h) => h.eventId as number)
    t.same(inChat, [...inChat].sort((a, b) => a - b), `chat ${chat} in order`)
  }
  const warnings = logs.parsed().filter((line) => line.msg === 'polling failed: retrying').map((line) => line.error as string)
  t.ok(warnings.some((w) => /INTERNAL_SERVER_ERROR \(HTTP 500\)/.test(w)))
  t.ok(warnings.some((w) => /QUERY_LIMIT_EXCEEDED/.test(w)))
  t.ok(warnings.some((w) => /TIMEOUT/.test(w)))
  t.ok(warnings.some((w) => /NETWORK_ERROR/.test(w)))
  t.notMatch(logs.text(), fake.webhookUrl.split('/').at(-2) as string, 'the webhook secret is never logged')
})

t.test('keeps its offset in the inbox: a restart resumes where it stopped, without a duplicate', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'b24-poll-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const first = await setup(t, { dataDir })
  first.fake.subscribe()
  for (let i = 0; i < 5; i++) first.fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, `m${i}`))
  first.poller.start()
  await eventually(() => first.handled.length === 5)
  await first.close()
  const offset = first.poller.state().offset
  t.type(offset, 'number')

  // The same portal queue read again after a restart: the fake keeps what was not confirmed.
  const second = await setup(t, { dataDir, url: () => first.fake.webhookUrl })
  const before = first.fake.calls.length
  second.poller.start()
  await eventually(() => first.fake.calls.length > before + 1)
  t.equal(first.fake.calls.find((call, i) => i >= before && call.method === 'im.v2.Event.get')?.params.offset, offset, 'resumes from the stored offset')
  t.same(second.handled, [], 'nothing handled twice')
  await eventually(() => second.poller.state().state === 'polling')
  t.match(second.poller.state(), { offset })
})

t.test('while the inbox cannot be opened nothing is fetched, and the poller says why', async (t) => {
  const parent = t.testdir({ data: 'a file where DATA_DIR should be' })
  const { fake, poller } = await setup(t, { dataDir: join(parent, 'data') })
  fake.subscribe()
  fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, 'waits at Bitrix24'))
  poller.start()
  await eventually(() => poller.state().state === 'retrying')
  t.match(poller.state(), { lastError: /cannot open the inbox in DATA_DIR/ })
  t.notOk(fake.calls.some((call) => call.method === 'im.v2.Event.get'), 'no Event.get: nothing to store it in')
  t.equal(fake.unconfirmed('user').length, 1)
})

t.test('an event off its schema goes to the dead letter and the queue moves on', async (t) => {
  const { fake, poller, handled, pipeline } = await setup(t)
  fake.subscribe()
  const bad = fake.pushUserEvent('ONIMV2MESSAGEADD', { message: { id: 'not a number' } }) as number
  const good = fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, 'fine')) as number
  poller.start()
  await eventually(() => handled.length === 1)
  t.equal(handled[0]?.eventId, good)
  const inbox = pipeline.inbox()!
  const [dead] = inbox.deadLetters()
  t.match(dead, { type: 'ONIMV2MESSAGEADD', error: /does not match its schema/, payload: { eventId: bad, type: 'ONIMV2MESSAGEADD' } })
  t.match(replayDeadLetter(inbox, dead!.id), { replayed: false, reason: /does not match its schema/ }, 'decoded again as a polled event')
  await eventually(() => !fake.unconfirmed('user').includes(bad))
})

t.test('a batch the inbox could not store is not confirmed: the same offset is asked again', async (t) => {
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  fake.subscribe()
  for (let i = 0; i < 3; i++) fake.pushUserEvent('ONIMV2MESSAGEADD', message(1, `m${i}`))
  let failures = 1
  const accepted: number[] = []
  const offsets: number[] = []
  const poller = new Poller({
    mode: 'im',
    client: new RestClient(webhookTarget(fake.webhookUrl), { timeoutMs: 300 }),
    limit: 10,
    busyMs: 10,
    idleMs: 20,
    retryBaseMs: 5,
    retryMaxMs: 10,
    pipeline: {
      accept: async (inbound) => {
        if (failures > 0) {
          failures--
          throw new Error('disk full')
        }
        accepted.push(inbound.event.eventId as number)
      },
      reject: async () => undefined,
    },
    offsets: () => ({ read: () => offsets.at(-1) ?? null, write: (offset) => void offsets.push(offset) }),
    logger: createLogger({ level: 'silent' }),
  })
  poller.start()
  t.teardown(() => poller.stop())
  await eventually(() => fake.calls.filter((call) => call.method === 'im.v2.Event.get').length >= 3)
  const sent = fake.calls.filter((call) => call.method === 'im.v2.Event.get').slice(0, 3).map((call) => call.params.offset)
  t.same(sent, [undefined, undefined, offsets[0]], 'nothing confirmed until the batch is stored')
  const [first] = accepted.slice(-3)
  t.same(accepted.slice(-3), [first, first! + 1, first! + 2], 'then the whole batch is stored again, in order (the inbox drops what it has)')
})

/** A poller over a scripted client: each call gets the next answer (a value, or an error to throw). */
function scripted(t: Test, answers: unknown[], options: Partial<PollerOptions> = {}) {
  const calls: Array<{ method: string; params: Record<string, unknown> }> = []
  const stored: unknown[] = []
  const rejected: unknown[] = []
  const offsets: number[] = []
  const client = {
    target: webhookTarget('https://p.bitrix24.com/rest/1/s3cr3t/'),
    call: async (method: string, params: Record<string, unknown>, signal: AbortSignal) => {
      calls.push({ method, params })
      // Out of answers: a call that hangs until the poller aborts it.
      const answer = answers.length > 0 ? answers.shift() : new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))
      if (answer instanceof Error) throw answer
      return answer
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
    pipeline: { accept: async (inbound) => void stored.push(inbound), reject: async (event) => void rejected.push(event) },
    offsets: () => ({ read: () => offsets.at(-1) ?? null, write: (offset) => void offsets.push(offset) }),
    logger: createLogger({ level: 'debug' }, logs.stream),
    ...options,
  })
  t.teardown(() => poller.stop())
  return { poller, calls, stored, rejected, offsets, logs }
}

t.test('an answer that is not an Event.get result is retried, never confirmed', async (t) => {
  const { poller, calls, offsets, logs } = scripted(t, [true, { events: 'no' }, { events: [], nextOffset: 7, hasMore: false }])
  poller.start()
  await eventually(() => offsets.length === 1)
  t.same(offsets, [7])
  t.same(calls.slice(0, 3).map((call) => call.method), ['im.v2.Event.subscribe', 'im.v2.Event.get', 'im.v2.Event.get'])
  t.match(logs.parsed().find((line) => line.msg === 'polling failed: retrying'), { error: /ERROR_UNEXPECTED_ANSWER.*not an Event.get result/ })
})

t.test('something that is not even an event goes to the dead letter too', async (t) => {
  const { poller, rejected, offsets } = scripted(t, [true, { events: [42, { eventId: 'x', type: 'ONIMV2JOINCHAT', date: 'd', data: {} }], nextOffset: 3, hasMore: false }])
  poller.start()
  await eventually(() => offsets.length === 1)
  t.match(rejected, [
    { payload: { event: 42 }, source: 'poll', error: { type: 'UNKNOWN', message: /not a polled event/ } },
    { payload: { eventId: 'x' }, source: 'poll', error: { type: 'ONIMV2JOINCHAT', message: /eventId/ } },
  ])
})

t.test('imbot: sends botId, botToken (webhook auth) and withUserEvents; resubscribes when told USER_NOT_SUBSCRIBED', async (t) => {
  const notSubscribed = new (await import('../../src/bitrix/bitrix-error.ts')).BitrixError('imbot.v2.Event.get', 'USER_NOT_SUBSCRIBED', 400, 'User not subscribed')
  const { poller, calls, offsets } = scripted(t, [true, notSubscribed, true, { events: [], nextOffset: 1, hasMore: false }], { mode: 'imbot', botId: 456, botToken: 'bt', withUserEvents: true })
  poller.start()
  await eventually(() => offsets.length === 1)
  t.same(calls.slice(0, 4), [
    { method: 'im.v2.Event.subscribe', params: {} },
    { method: 'imbot.v2.Event.get', params: { limit: 5, botId: 456, botToken: 'bt', withUserEvents: true } },
    { method: 'im.v2.Event.subscribe', params: {} },
    { method: 'imbot.v2.Event.get', params: { limit: 5, botId: 456, botToken: 'bt', withUserEvents: true } },
  ])
})

t.test('imbot without user events does not subscribe', async (t) => {
  const { poller, calls, offsets } = scripted(t, [{ events: [], nextOffset: 1, hasMore: false }], { mode: 'imbot', botId: 456, botToken: 'bt' })
  poller.start()
  await eventually(() => offsets.length === 1)
  t.same(calls[0]?.method, 'imbot.v2.Event.get')
  t.notOk(calls.some((call) => call.method === 'im.v2.Event.subscribe'))
})

t.test('one poller per queue in a process; stopping frees it', async (t) => {
  const first = scripted(t, [])
  const second = scripted(t, [])
  first.poller.start()
  t.throws(() => second.poller.start(), /another poller already reads poll:im:p.bitrix24.com:1/)
  await first.poller.stop()
  t.equal(first.poller.state().state, 'stopped')
  const oauth = new Poller({ mode: 'im', client: new RestClient(oauthTarget({ client_endpoint: 'https://p.bitrix24.com/rest/', access_token: 'x' })!, { timeoutMs: 1 }), limit: 1, busyMs: 1, idleMs: 1, retryBaseMs: 1, retryMaxMs: 1, pipeline: { accept: async () => undefined, reject: async () => undefined }, offsets: () => ({ read: () => null, write: () => undefined }), logger: createLogger({ level: 'silent' }) })
  t.equal(oauth.queue, 'poll:im:p.bitrix24.com:oauth', 'an OAuth poller reads the queue of its token')
  second.poller.start()
  await eventually(() => second.calls.length === 1)
})

t.test('stops cleanly in a pause and in a call; a poller never started stops too', async (t) => {
  const idle = scripted(t, [true, { events: [], nextOffset: 1, hasMore: false }], { idleMs: 60000 })
  idle.poller.start()
  await eventually(() => idle.offsets.length === 1)
  await idle.poller.stop()
  t.equal(idle.poller.state().state, 'stopped')
  const hanging = scripted(t, [])
  hanging.poller.start()
  await eventually(() => hanging.calls.length === 1)
  await hanging.poller.stop()
  t.equal(hanging.poller.state().state, 'stopped')
  await scripted(t, []).poller.stop()
})
