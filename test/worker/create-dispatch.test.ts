import t from 'tap'
import { pino } from 'pino'
import type { PortalRow } from '../../schemas/portal.ts'
import { EnvelopeError, EventValidationError } from '../../src/errors.ts'
import type { NormalizedEvent, Portal } from '../../src/event/decoded-event.ts'
import type { Media } from '../../src/event/read-payload.ts'
import { scanWebhook } from '../../src/event/scan-webhook.ts'
import { polledArrival } from '../../src/door/arrival.ts'
import { arrivalRecord } from '../../src/door/arrival-record.ts'
import { createDispatch, type DispatchOptions } from '../../src/worker/create-dispatch.ts'
import type { Admission, Admitter } from '../../src/worker/steps/admission.ts'
import { HandlersFailedError } from '../../src/worker/steps/handlers-failed-error.ts'
import type { HandlerContext } from '../../src/router/handler-context.ts'
import { Router } from '../../src/router/router.ts'
import { createSealer, SealError, type Sealer } from '../../src/seal/sealer.ts'
import type { NewRecord, StoredRecord } from '../../src/store/store.ts'
import { FormParseError } from '../../src/wire/parse-form.ts'
import { Undeliverable, Worker } from '../../src/worker/worker.ts'
import { expectedEvent } from '../fixtures/expected-event.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { asJson, eventually, readFixture } from '../helpers.ts'

const sealer = createSealer(Buffer.alloc(32, 7))
const logger = pino({ level: 'silent' })
/** The signal of an attempt whose claim is never lost. */
const NEVER = new AbortController().signal
const POLL_PORTAL: Portal = { domain: 'example.bitrix24.com', memberId: 'polled-member', clientEndpoint: 'https://example.bitrix24.com/rest/' }

let ids = 0
const stored = (record: NewRecord): StoredRecord => ({ ...record, id: ++ids, attempts: 0, receivedAt: Date.now() })

const formBody = (name: string): string => readFixture(`bitrix/${name}.body.txt`)

/** The record the door makes of a webhook body: scanned, its credentials sealed with `with`. */
function webhookRecord(body: string, media: Media = 'form', with_: Sealer = sealer): NewRecord {
  const { credentials, ...wire } = scanWebhook(body, media)
  return arrivalRecord({ source: 'webhook', portal: credentials.portal, credentials, ...wire }, with_)
}

/** One event of an `Event.get` result, made of a fixture's typed data. */
function polledEvent(name: string, eventId: number): Record<string, unknown> {
  const { event, data } = JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as { event: string; data: unknown }
  return { eventId, type: event.toUpperCase(), date: '2027-01-15T08:00:00+00:00', data }
}

/** The dedup window as the store keeps it: keys of completed records, and every question asked of it. */
function window() {
  const keys = new Set<string>()
  const asked: string[] = []
  const seen = async (key: string) => {
    asked.push(key)
    return keys.has(key)
  }
  return { keys, asked, seen }
}

/** A dispatch with every handled event and its context kept, and the sinks' calls. */
function setup(options: Partial<DispatchOptions> = {}) {
  const handled: Array<{ event: NormalizedEvent; ctx: HandlerContext }> = []
  const sunk: string[] = []
  const router = new Router().onAny((event, ctx) => void handled.push({ event, ctx }))
  const dedup = window()
  const dispatch = createDispatch({ router, sinks: [(event, ctx) => void sunk.push(`${event.type} ${ctx.key}`)], logger, handlerTimeoutMs: 1000, sealer, seen: dedup.seen, ...options })
  /** Dispatches `record` as the worker would, then completes it: its key goes to the window. */
  const deliver = async (record: StoredRecord, attempt = 1) => {
    const outcome = await dispatch(record, attempt, NEVER)
    if (outcome.key !== null) dedup.keys.add(outcome.key)
    return outcome
  }
  return { router, dispatch, deliver, handled, sunk, dedup }
}

const rejectionOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => {
      throw new Error('it did not reject')
    },
    (error: unknown) => error,
  )

t.test('runs the handlers, then the sinks, with the decoded event and the credentials opened from the seal', async (t) => {
  const router = new Router()
  const seen: string[] = []
  const contexts: HandlerContext[] = []
  router.on('ONIMBOTV2MESSAGEADD', (event, ctx) => {
    contexts.push(ctx)
    seen.push(`handler ${event.data.message.text}`)
    t.same(asJson(event), expectedEvent('imbot_v2_message_add_webhook'), 'the event decoded from the stored wire')
  })
  const record = stored(webhookRecord(formBody('imbot_v2_message_add_webhook')))
  t.notOk(/access_token|application_token|0b02a0690000071b/.test(record.body), 'the stored wire holds no credentials')
  t.match(record.credentials, /^v1\./, 'they are sealed beside it')
  const dedup = window()
  const outcome = await createDispatch({ router, sinks: [(event, ctx) => void seen.push(`sink ${event.type} ${ctx.key}`)], logger, handlerTimeoutMs: 1000, sealer, seen: dedup.seen })(record, 2, NEVER)
  const [ctx] = contexts as [HandlerContext]
  t.match(outcome, { key: /^hook:/ })
  t.same(outcome, { key: ctx.key }, 'the key the handlers saw, not a duplicate')
  t.same(dedup.asked, [ctx.key], 'asked whether it was seen')
  t.same(seen, ['handler Hello bot!', `sink ONIMBOTV2MESSAGEADD ${ctx.key}`])
  t.equal(ctx.credentials.bot?.access_token, '0b02a0690000071b0008440001b0007a16b39202c2490f015', "the bot's token, opened from the seal")
  t.equal(ctx.credentials.applicationToken, '831c76b092f9f135d9b6b36c3a720757')
  t.equal(ctx.credentials.auth?.access_token, 'a98b9d690000071b000008440000001b0000071d8a2')
  t.match(ctx, { attempt: 2, source: 'webhook', portal: record.portal })
  t.equal(ctx.portal.memberId, 'bac1cd5c8940947a75e0d71b1a84e348')
})

t.test('a double delivery (the same body twice) is recognised by its key: no handler, no sink', async (t) => {
  const { deliver, handled, sunk, dedup } = setup()
  const body = formBody('im_v2_message_add')
  const first = stored(webhookRecord(body))
  const second = stored(webhookRecord(body))
  t.not(first.credentials, second.credentials, 'two records, each sealed anew')
  const outcome = await deliver(first)
  t.same(await deliver(second), { key: outcome.key, skipped: 'duplicate' })
  t.equal(handled.length, 1, 'handled once')
  t.same(sunk, [`ONIMV2MESSAGEADD ${outcome.key}`])
  t.same(dedup.asked, [outcome.key, outcome.key])
})

t.test('two genuine edits of one message (other text) are two events: two keys, both handled', async (t) => {
  const { deliver, handled } = setup()
  const edit = formBody('im_v2_message_update')
  const again = edit.replace('Hello+everyone%21+%28edited%29', 'Hello+everyone%21+%28edited+again%29')
  t.not(again, edit)
  const first = await deliver(stored(webhookRecord(edit)))
  const second = await deliver(stored(webhookRecord(again)))
  t.not(first.key, second.key)
  t.same([first.skipped, second.skipped], [undefined, undefined])
  t.same(
    handled.map(({ event }) => (event.data as { message: { text: string } }).message.text),
    ['Hello everyone! (edited)', 'Hello everyone! (edited again)'],
  )
})

t.test('the same event through a JSON body is the same key as through its form', async (t) => {
  const { deliver } = setup()
  const form = await deliver(stored(webhookRecord(formBody('imbot_v2_message_add_webhook'))))
  t.same(await deliver(stored(webhookRecord(readFixture('bitrix/imbot_v2_message_add_webhook.payload.json'), 'json'))), { key: form.key, skipped: 'duplicate' })
})

t.test('a polled event keys by its portal and eventId, and has no credentials', async (t) => {
  const { deliver, handled } = setup()
  const record = stored(arrivalRecord(polledArrival(polledEvent('im_v2_message_add', 41), POLL_PORTAL), sealer))
  t.equal(record.credentials, null)
  t.same(await deliver(record), { key: 'poll:polled-member:41' })
  const [{ event, ctx }] = handled as [{ event: NormalizedEvent; ctx: HandlerContext }]
  t.same(asJson(event), { ...expectedEvent('im_v2_message_add'), eventId: 41, date: '2027-01-15T08:00:00+00:00' })
  t.match(ctx, { source: 'poll', portal: POLL_PORTAL, key: 'poll:polled-member:41' })
  t.ok(ctx.credentials.isEmpty)

  // Polled again (the poller's cursor went back), with whatever data: the same event id.
  const again = stored(arrivalRecord(polledArrival(polledEvent('im_v2_message_update', 41), POLL_PORTAL), sealer))
  t.same(await deliver(again), { key: 'poll:polled-member:41', skipped: 'duplicate' })
  t.same(await deliver(stored(arrivalRecord(polledArrival(polledEvent('im_v2_message_add', 42), POLL_PORTAL), sealer))), { key: 'poll:polled-member:42' })
  const domainOnly = { ...POLL_PORTAL, memberId: null }
  t.same(await deliver(stored(arrivalRecord(polledArrival(polledEvent('im_v2_message_add', 41), domainOnly), sealer))), { key: 'poll:example.bitrix24.com:41' }, 'keyed by domain without a member id')
  t.equal(handled.length, 3)
})

t.test('a wire off its schema is Undeliverable, the reason naming the path, never the value; nothing runs', async (t) => {
  const { dispatch, handled, sunk, dedup } = setup()
  const broken = formBody('im_v2_message_add').replace('data%5Bmessage%5D%5Bid%5D=5012', 'data%5Bmessage%5D%5Bid%5D=secret-value-77')
  t.not(broken, formBody('im_v2_message_add'))
  const failure = await rejectionOf(dispatch(stored(webhookRecord(broken)), 1, NEVER))
  t.ok(failure instanceof Undeliverable)
  t.match(failure, { message: 'ONIMV2MESSAGEADD does not match its schema: /data/message/id: must be integer' })
  t.ok((failure as Error).cause instanceof EventValidationError, 'the decoder error as its cause')
  t.notOk((failure as Error).message.includes('secret-value-77'))

  const refused = await rejectionOf(dispatch(stored(webhookRecord(formBody('variant_empty_and_null'))), 1, NEVER))
  t.ok(refused instanceof Undeliverable)
  t.match(refused, { message: /^ONIMBOTV2MESSAGEADD does not match its schema: \/data\/chat\/type: is required; / })

  const notPolled = await rejectionOf(dispatch(stored(arrivalRecord(polledArrival('not an event', POLL_PORTAL), sealer)), 1, NEVER))
  t.ok(notPolled instanceof Undeliverable)
  t.ok((notPolled as Error).cause instanceof EnvelopeError)
  t.match(notPolled, { message: /^not a polled event: / })
  t.same([handled, sunk, dedup.asked], [[], [], []], 'no handler, no sink, no key asked')
})

t.test('a form past formLimits is Undeliverable; with the limits raised, the same record decodes', async (t) => {
  const record = stored(webhookRecord(formBody('imbot_v2_message_add_webhook')))
  const pairs = record.body.split('&').length
  const strict = setup({ formLimits: { maxPairs: pairs - 1 } })
  const failure = await rejectionOf(strict.dispatch(record, 1, NEVER))
  t.ok(failure instanceof Undeliverable)
  t.ok((failure as Error).cause instanceof FormParseError)
  t.equal((failure as Error).message, `more than ${pairs - 1} form fields`)
  t.same(strict.handled, [])
  const deep = await rejectionOf(setup({ formLimits: { maxDepth: 1 } }).dispatch(record, 1, NEVER))
  t.match(deep, { name: 'Undeliverable', message: 'a form key nests deeper than 1 levels' })

  const raised = setup({ formLimits: { maxPairs: pairs } })
  t.match(await raised.dispatch(record, 1, NEVER), { key: /^hook:/ })
  t.equal(raised.handled.length, 1)
})

t.test('credentials sealed under another key fail with a SealError, an ordinary failure: retried, not rejected', async (t) => {
  const other = createSealer(Buffer.alloc(32, 8))
  const { dispatch, handled, dedup } = setup()
  const record = stored(webhookRecord(formBody('imbot_v2_message_add_webhook'), 'form', other))
  const failure = await rejectionOf(dispatch(record, 1, NEVER))
  t.ok(failure instanceof SealError)
  t.notOk(failure instanceof Undeliverable)
  t.notOk((failure as Error).message.includes('0b02a0690000071b'), 'no token in the message')
  t.same([handled, dedup.asked], [[], []])

  // Through the worker: attempts until maxAttempts, then the dead letter as a failure, not a rejection.
  const store = new MemoryStore()
  await store.append(webhookRecord(formBody('imbot_v2_message_add_webhook'), 'form', other))
  const worker = new Worker(store.queue, dispatch, logger, { concurrency: 1, maxAttempts: 2, retryBaseMs: 1, retryMaxMs: 2 })
  t.teardown(() => worker.stop(0))
  worker.start()
  await eventually(() => store.inStatus('dead').length === 1)
  t.match(store.inStatus('dead'), [{ attempts: 2, error: /^SealError: cannot open sealed credentials: the secret key/ }])
  t.match(worker.stats(), { rejected: 0, failedAttempts: 2, deadLettered: 1, handled: 0 })
})

t.test('through the worker and a store: a double delivery is handled once and counted as a duplicate', async (t) => {
  const store = new MemoryStore()
  const { dispatch, handled } = setup({ seen: (key) => store.queue.seen(key) })
  const body = formBody('imbot_v2_message_add_webhook')
  await store.append(webhookRecord(body))
  await store.append(webhookRecord(body))
  const worker = new Worker(store.queue, dispatch, logger, { concurrency: 4, maxAttempts: 3, retryBaseMs: 1, retryMaxMs: 2 })
  t.teardown(() => worker.stop(0))
  worker.start()
  await eventually(() => store.inStatus('done').length === 2)
  t.equal(handled.length, 1)
  t.match(worker.stats(), { handled: 1, duplicates: 1, rejected: 0, failedAttempts: 0 })
  t.same([...store.seenKeys], [handled[0]?.ctx.key])
})

t.test('a failing handler fails the attempt with every error, and the sinks do not run', async (t) => {
  const router = new Router().onAny(() => {
    throw new Error('first')
  })
  router.onAny(() => Promise.reject(new TypeError('second')))
  const sunk: unknown[] = []
  const dispatch = createDispatch({ router, sinks: [(event) => void sunk.push(event)], logger, handlerTimeoutMs: 1000, sealer, seen: async () => false })
  const failure = await rejectionOf(dispatch(stored(webhookRecord(formBody('im_v2_message_add'))), 1, NEVER))
  t.ok(failure instanceof HandlersFailedError)
  t.match(failure, { name: 'HandlersFailedError', message: 'Error: first; TypeError: second', errors: [{ message: 'first' }, { message: 'second' }] })
  t.same(sunk, [])
  router.onAny(() => Promise.reject('a string'))
  t.match(await rejectionOf(dispatch(stored(webhookRecord(formBody('im_v2_message_add'))), 2, NEVER)), { message: /; a string$/ })
})

t.test('a failing sink retries the sinks alone: the handlers never run twice for it', async (t) => {
  let sinkFails = true
  let sinkRuns = 0
  const { deliver, handled, dedup } = setup({
    sinks: [
      () => {
        sinkRuns++
        if (sinkFails) throw new Error('disk full')
      },
    ],
  })
  const record = stored(webhookRecord(formBody('im_v2_message_add')))
  await t.rejects(deliver(record, 1), { message: 'disk full' })
  await t.rejects(deliver({ ...record, attempts: 1 }, 2), { message: 'disk full' })
  sinkFails = false
  const outcome = await deliver({ ...record, attempts: 2 }, 3)
  t.match(outcome, { key: /^hook:/ })
  t.equal(outcome.skipped, undefined)
  t.equal(handled.length, 1)
  t.equal(sinkRuns, 3)
  t.same(dedup.asked, [outcome.key, outcome.key, outcome.key], 'the window asked on each attempt: the record is not done, its key not seen')
  t.same(
    handled.map(({ ctx }) => ctx.attempt),
    [1],
  )

  await deliver(stored(webhookRecord(formBody('im_v2_message_update'))), 1)
  t.equal(handled.length, 2, 'another event runs its handlers')
  // Done and its key forgotten (past the window, or replayed): its handlers run again.
  dedup.keys.clear()
  await deliver(record, 1)
  t.equal(handled.length, 3, 'the same one, once done, runs its handlers again')
})

t.test('a stored body that no decoder can read (a damaged row) is undeliverable, and says so without quoting it', async (t) => {
  const { dispatch, handled } = setup()
  for (const body of ['{"event":"ONIMV2MESSAGEADD",', 'null']) {
    const record = stored({ ...webhookRecord(readFixture('bitrix/im_v2_message_add.payload.json'), 'json'), body })
    const failure = await rejectionOf(dispatch(record, 1, NEVER))
    t.ok(failure instanceof Undeliverable, body)
    t.notOk((failure as Error).message.includes('ONIMV2MESSAGEADD'), 'the reason quotes nothing of the body')
  }
  t.same(handled, [])
})

t.test('in application mode: an event its portal forgot is done unhandled, without a key; one it wants is handled with its portal as stored', async (t) => {
  const record = stored(webhookRecord(formBody('im_v2_message_add')))
  const memberId = record.portal.memberId as string
  const row = { memberId, domain: 'example.bitrix24.com', clientEndpoint: 'https://example.bitrix24.com/rest/', status: 'active', scope: 'imbot', version: 3, expiresAt: null, installedAt: 0, updatedAt: 0 } as unknown as PortalRow
  const calls: string[] = []
  let verdict: Admission = { verdict: 'forget' }
  const app: Admitter = {
    admission: async () => verdict,
    portal: (member) => ({ call: async <T>(method: string) => (calls.push(`${member} ${method}`), true as T) }),
  }
  const { deliver, handled, sunk, dedup } = setup({ app })
  t.same(await deliver(record), { key: null, skipped: 'forgotten' })
  t.same([handled, sunk, dedup.asked], [[], [], []], 'nothing ran, no key asked')

  verdict = { verdict: 'handle', portal: row }
  const outcome = await deliver(record)
  t.same(outcome, { key: outcome.key })
  const [{ ctx }] = handled as [{ event: NormalizedEvent; ctx: HandlerContext }]
  t.match(ctx.portal, { memberId, status: 'active', scope: 'imbot', version: 3 })
  await ctx.bitrix.call('im.v2.Chat.Message.send', {})
  t.same(calls, [`${memberId} im.v2.Chat.Message.send`], 'called as the application')
})
