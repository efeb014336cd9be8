import t, { type Test } from 'tap'
import { pino } from 'pino'
import { backoff } from '../../src/backoff.ts'
import type { NewRecord, Queue, StoredRecord } from '../../src/store/store.ts'
import { StoreUnavailableError } from '../../src/store/store-unavailable-error.ts'
import { Postponed, Undeliverable, Worker, type Dispatch, type Outcome, type Settlement, type WorkerOptions } from '../../src/worker/worker.ts'
import type { Wait } from '../../src/wait.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { newRecord, textOf } from '../fakes/new-record.ts'
import { captureLogs, eventually } from '../helpers.ts'
import { openPgStore, proxied, testDatabase } from '../store/postgres/postgres-fixture.ts'

const OPTIONS: WorkerOptions = { concurrency: 4, maxAttempts: 3, retryBaseMs: 5, retryMaxMs: 20, random: () => 0.5 }

/** A seeded PRNG (mulberry32): the same sequence on every run. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function deferred<T = void>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((done) => (resolve = done))
  return { promise, resolve }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

/** A record of `chat` whose body is `{ text }`. */
const record = (chat: number | string, text: string): NewRecord => newRecord(chat, text, { type: 'TEST' })

/** The outcome of a record handled: a dedup key made of its text, as a dispatch derives one from its event. */
const handledOutcome = (stored: StoredRecord): Outcome => ({ key: `key:${textOf(stored)}` })

/**
 * A MemoryStore's queue, also woken once a retry is due by `Date.now()`: the fake's own wake-up
 * is a timer, and timers run on the event loop's clock, which may fire it a moment before
 * `Date.now()` reaches the retry's `nextAt` (the claim then finds nothing, and nothing wakes
 * the worker again).
 */
function dueWakeups(queue: Queue): Queue {
  const listeners = new Set<() => void>()
  const wake = (nextAt: number): void => {
    setTimeout(() => (Date.now() < nextAt ? wake(nextAt) : listeners.forEach((listener) => listener())), Math.max(0, nextAt - Date.now())).unref()
  }
  return {
    ...queue,
    retry: async (claim, attempts, nextAt, error) => {
      const written = await queue.retry(claim, attempts, nextAt, error)
      wake(nextAt)
      return written
    },
    onAvailable(listener) {
      listeners.add(listener)
      const unsubscribe = queue.onAvailable(listener)
      return () => {
        listeners.delete(listener)
        unsubscribe()
      }
    },
  }
}

/** A worker over a MemoryStore's queue (or what `queue` makes of it), stopped at the end of the test. */
function setup(t: Test, dispatch: Dispatch, options: Partial<WorkerOptions> = {}, queue = (base: Queue): Queue => base) {
  const logs = captureLogs()
  const store = new MemoryStore()
  const worker = new Worker(queue(dueWakeups(store.queue)), dispatch, pino(logs.stream), { ...OPTIONS, ...options })
  t.teardown(() => worker.stop(0))
  const add = (chat: number | string, text: string) => store.append(record(chat, text))
  const texts = (status: 'pending' | 'dead' | 'done') => store.inStatus(status).map(textOf)
  return { store, worker, logs, add, texts }
}

t.test('handles what was pending before it started, then what arrives', async (t) => {
  const seen: string[] = []
  const { worker, add, texts, store } = setup(t, async (stored) => {
    seen.push(textOf(stored))
    return handledOutcome(stored)
  })
  await add(1, 'left by a previous run')
  worker.start()
  await add(1, 'new')
  await eventually(() => seen.length === 2)
  t.same(seen, ['left by a previous run', 'new'])
  await eventually(() => texts('done').length === 2)
  t.same(worker.stats(), { inFlight: 0, waiting: 0, handled: 2, duplicates: 0, rejected: 0, failedAttempts: 0, deadLettered: 0 })
  t.same([...store.seenKeys], ['key:left by a previous run', 'key:new'], 'each dedup key kept as its record completes')
})

t.test('runs no more than `concurrency` records at once', async (t) => {
  const gate = deferred()
  let running = 0
  let most = 0
  const { worker, add, texts } = setup(
    t,
    async (stored) => {
      most = Math.max(most, ++running)
      await gate.promise
      running--
      return handledOutcome(stored)
    },
    { concurrency: 3 },
  )
  for (let chat = 1; chat <= 10; chat++) await add(chat, `message ${chat}`)
  worker.start()
  await eventually(() => running === 3)
  // Every record is due and of another chat: only the limit holds them back.
  await add(11, 'one more')
  await turn()
  await turn()
  t.equal(running, 3)
  t.equal(worker.stats().inFlight, 3)
  gate.resolve()
  await eventually(() => texts('done').length === 11)
  t.equal(most, 3)
})

t.test('keeps arrival order within a chat, one record at a time, while chats run in parallel', async (t) => {
  const random = seeded(42)
  const seen = new Map<string, string[]>()
  const busy = new Set<string>()
  const overlaps: string[] = []
  let running = 0
  let most = 0
  const { worker, add, texts } = setup(
    t,
    async (stored, attempt) => {
      if (busy.has(stored.chatKey)) overlaps.push(stored.chatKey)
      busy.add(stored.chatKey)
      most = Math.max(most, ++running)
      await new Promise((resolve) => setTimeout(resolve, random() * 4))
      running--
      busy.delete(stored.chatKey)
      if (attempt === 1 && random() < 0.2) throw new Error('a transient failure')
      seen.set(stored.chatKey, [...(seen.get(stored.chatKey) ?? []), textOf(stored)])
      return handledOutcome(stored)
    },
    { concurrency: 3, maxAttempts: 10, random },
  )
  worker.start()
  const sent = new Map<string, string[]>()
  for (let i = 0; i < 60; i++) {
    const chat = (i % 5) + 1
    sent.set(`chat:${chat}`, [...(sent.get(`chat:${chat}`) ?? []), `message ${i}`])
    await add(chat, `message ${i}`)
  }
  await eventually(() => texts('done').length === 60, 10000)
  t.same(Object.fromEntries([...seen].sort()), Object.fromEntries([...sent].sort()), 'each chat in arrival order, retries included')
  t.same(overlaps, [], 'never two records of one chat at once')
  t.ok(most > 1, `chats ran in parallel (up to ${most})`)
  t.ok(worker.stats().failedAttempts > 0, 'some first attempts failed and were retried in their place')
})

t.test('retries a failing record with backoff, then buries it after maxAttempts; each failure logged once', async (t) => {
  const attempts: Array<[number, number]> = []
  const retries: Array<{ attempts: number; delay: number }> = []
  const { worker, add, texts, store, logs } = setup(
    t,
    async (stored, attempt) => {
      if (textOf(stored) !== 'doomed') return handledOutcome(stored)
      attempts.push([attempt, Date.now()])
      t.equal(stored.attempts, attempt - 1, 'the record says how many attempts were made before')
      throw new Error(`still broken on attempt ${attempt}`)
    },
    { maxAttempts: 3, retryBaseMs: 20, retryMaxMs: 1000, random: seeded(7) },
    (base) => ({
      ...base,
      retry: async (claim, count, nextAt, error) => {
        retries.push({ attempts: count, delay: nextAt - Date.now() })
        return base.retry(claim, count, nextAt, error)
      },
    }),
  )
  worker.start()
  await add(1, 'doomed')
  await add(1, 'next in the chat')
  await eventually(() => texts('done').length === 1)
  t.same(texts('dead'), ['doomed'])
  t.same(texts('done'), ['next in the chat'], 'the chat goes on once its head is buried')
  t.match(store.inStatus('dead'), [{ attempts: 3, error: 'Error: still broken on attempt 3' }])
  t.same(
    attempts.map(([attempt]) => attempt),
    [1, 2, 3],
  )

  const expected = seeded(7)
  const delays = [backoff(1, 20, 1000, expected), backoff(2, 20, 1000, expected)]
  const logged = logs.parsed().filter((line) => line.inboxId === 1)
  t.match(logged, [
    { level: 40, msg: 'handlers failed: will retry', attempt: 1, retryInMs: delays[0], type: 'TEST', err: { message: 'still broken on attempt 1' } },
    { level: 40, msg: 'handlers failed: will retry', attempt: 2, retryInMs: delays[1], err: { message: 'still broken on attempt 2' } },
    { level: 50, msg: 'handlers kept failing: moved to the dead letter', attempt: 3, err: { message: 'still broken on attempt 3' } },
  ])
  t.equal(logged.length, 3, 'one line per failed attempt')
  t.same(
    retries.map((retry) => retry.attempts),
    [1, 2],
  )
  retries.forEach((retry, i) => t.ok(retry.delay <= (delays[i] as number) && retry.delay >= (delays[i] as number) - 5, `retry ${i + 1} due after its backoff (${retry.delay} ms)`))
  const gaps = attempts.slice(1).map(([, at], i) => at - (attempts[i] as [number, number])[1])
  gaps.forEach((gap, i) => t.ok(gap >= (delays[i] as number), `attempt ${i + 2} waited its backoff: ${gap} ms`))
  t.same(worker.stats(), { inFlight: 0, waiting: 0, handled: 1, duplicates: 0, rejected: 0, failedAttempts: 3, deadLettered: 1 })
})

t.test('records what a dispatch threw, whatever it threw', async (t) => {
  const { worker, add, store } = setup(
    t,
    async (stored) => {
      throw textOf(stored) === 'string' ? 'a bare string' : undefined
    },
    { maxAttempts: 1 },
  )
  worker.start()
  await add(1, 'string')
  await add(2, 'nothing')
  await eventually(() => store.inStatus('dead').length === 2)
  t.same(
    store.inStatus('dead').map((row) => row.error),
    ['a bare string', 'Error: a handler failed without a reason'],
  )
})

t.test("completes each record with its outcome's key; a double delivery counts as a duplicate, not as handled", async (t) => {
  const completed: Array<[number, string | null]> = []
  const { worker, add, store, logs } = setup(
    t,
    async (stored) => {
      const text = textOf(stored)
      if (text === 'again') return { key: 'key:first', skipped: 'duplicate' }
      if (text === 'keyless') return { key: null }
      return handledOutcome(stored)
    },
    {},
    (base) => ({
      ...base,
      complete: async (claim, key) => {
        completed.push([claim.id, key])
        return base.complete(claim, key)
      },
    }),
  )
  await add(1, 'first')
  await add(1, 'again')
  await add(2, 'keyless')
  worker.start()
  await eventually(() => store.inStatus('done').length === 3)
  t.same(
    completed.sort(([a], [b]) => a - b),
    [
      [1, 'key:first'],
      [2, 'key:first'],
      [3, null],
    ],
    'the key each dispatch gave, or none',
  )
  t.same([...store.seenKeys], ['key:first'])
  t.same(worker.stats(), { inFlight: 0, waiting: 0, handled: 2, duplicates: 1, rejected: 0, failedAttempts: 0, deadLettered: 0 })
  t.same(logs.lines, [], 'nothing to say about either')
})

t.test('an Undeliverable record goes to the dead letter on its first attempt, logged by type, id and reason only', async (t) => {
  const attempts: Array<[string, number]> = []
  const reason = 'ONIMBOTV2MESSAGEADD does not match its schema: /data/message/id: must be integer'
  const { worker, add, store, logs, texts } = setup(
    t,
    async (stored, attempt) => {
      attempts.push([textOf(stored), attempt])
      if (textOf(stored).startsWith('undecodable')) throw new Undeliverable(reason, { cause: new Error(`the value was ${textOf(stored)}`) })
      return handledOutcome(stored)
    },
    { maxAttempts: 8 },
  )
  await add(1, 'undecodable: password hunter2')
  await add(1, 'next in the chat')
  worker.start()
  await eventually(() => texts('done').length === 1)
  t.same(attempts, [
    ['undecodable: password hunter2', 1],
    ['next in the chat', 1],
  ], 'one attempt, no retry, and the chat goes on')
  t.match(store.inStatus('dead'), [{ id: 1, attempts: 1, error: reason }])
  t.same(worker.stats(), { inFlight: 0, waiting: 0, handled: 1, duplicates: 0, rejected: 1, failedAttempts: 0, deadLettered: 0 })
  t.same([...store.seenKeys], ['key:next in the chat'], 'no key kept for what did not decode')

  const logged = logs.parsed()
  t.equal(logged.length, 1, 'one line')
  const { level, time: _, pid: __, hostname: ___, msg, ...fields } = logged[0] as Record<string, unknown>
  t.equal(level, 40, 'a warning')
  t.match(msg, /dead letter/)
  t.same(fields, { type: 'TEST', inboxId: 1, reason }, 'the type, the id and the reason: nothing else of the record')
  for (const secret of ['hunter2', 'sealed-credentials', 'chat:1', 'the value was']) t.notOk(logs.text().includes(secret), `no ${secret} in the log`)
})

t.test('an Undeliverable whose burial cannot be written stays pending and is tried again', async (t) => {
  let attempts = 0
  let failures = 1
  const { worker, add, store, logs } = setup(
    t,
    async () => {
      attempts++
      throw new Undeliverable('/data: must be object')
    },
    { retryBaseMs: 10 },
    (base) => ({
      ...base,
      bury: async (claim, count, error) => {
        if (failures-- > 0) throw new StoreUnavailableError('the inbox cannot store events now')
        return base.bury(claim, count, error)
      },
    }),
  )
  await add(1, 'x')
  worker.start()
  await eventually(() => store.inStatus('dead').length === 1)
  t.equal(attempts, 2)
  t.match(store.inStatus('dead'), [{ attempts: 1, error: '/data: must be object' }], 'still its first attempt: the first was never written')
  t.match(logs.parsed(), [{ level: 50, msg: 'cannot record the outcome in the inbox' }, { level: 40, reason: '/data: must be object' }])
  t.same(worker.stats(), { inFlight: 0, waiting: 0, handled: 0, duplicates: 0, rejected: 1, failedAttempts: 0, deadLettered: 0 })
})

t.test('other errors are still retried, then buried, even beside Undeliverable ones', async (t) => {
  const { worker, add, store } = setup(
    t,
    async (stored, attempt) => {
      if (textOf(stored) === 'bad') throw new Undeliverable('/event is required')
      throw new TypeError(`broken on attempt ${attempt}`)
    },
    { maxAttempts: 2 },
  )
  await add(1, 'bad')
  await add(2, 'flaky')
  worker.start()
  await eventually(() => store.inStatus('dead').length === 2)
  t.same(
    store.inStatus('dead').map((row) => [textOf(row), row.attempts, row.error]),
    [
      ['bad', 1, '/event is required'],
      ['flaky', 2, 'TypeError: broken on attempt 2'],
    ],
  )
  t.same(worker.stats(), { inFlight: 0, waiting: 0, handled: 0, duplicates: 0, rejected: 1, failedAttempts: 2, deadLettered: 1 })
})

t.test('stopping finishes what is due and leaves a retry that is not due pending', async (t) => {
  const seen: string[] = []
  const { worker, add, store, texts } = setup(
    t,
    async (stored, attempt) => {
      await turn()
      if (textOf(stored) === 'flaky' && attempt === 1) throw new Error('not now')
      seen.push(textOf(stored))
      return handledOutcome(stored)
    },
    { concurrency: 1, retryBaseMs: 60000, retryMaxMs: 60000 },
  )
  await add(1, 'a')
  await add(2, 'flaky')
  await add(3, 'b')
  worker.start()
  t.equal(await worker.stop(5000), true)
  t.same(seen, ['a', 'b'], 'one after another, within the time given')
  t.same(texts('done'), ['a', 'b'])
  t.match(store.inStatus('pending'), [{ attempts: 1, error: 'Error: not now' }], 'the retry waits for the next start')
  t.same(worker.stats(), { inFlight: 0, waiting: 0, handled: 2, duplicates: 0, rejected: 0, failedAttempts: 1, deadLettered: 0 })
})

t.test('a worker stopped before its first turn takes nothing', async (t) => {
  let handled = 0
  const { worker, add, store } = setup(t, async (stored) => {
    handled++
    return handledOutcome(stored)
  })
  await add(1, 'x')
  worker.start()
  t.equal(await worker.stop(0), true)
  await turn()
  await turn()
  t.equal(handled, 0)
  t.equal(store.inStatus('pending').length, 1)
})

t.test('stopping at the deadline returns false and leaves the unfinished record pending', async (t) => {
  const started: string[] = []
  const { worker, add, store } = setup(t, (stored) => {
    started.push(textOf(stored))
    return new Promise<Outcome>(() => {})
  })
  worker.start()
  await add(1, 'stuck')
  await eventually(() => worker.stats().inFlight === 1)
  t.equal(await worker.stop(20), false)
  t.same(started, ['stuck'])
  t.match(store.inStatus('pending'), [{ attempts: 0 }], 'still there for the next start')
})

t.test('stopping leaves the rest pending for real: a second worker on the same queue handles it', async (t) => {
  const gate = deferred()
  const first: string[] = []
  const { worker, add, store } = setup(
    t,
    async (stored) => {
      first.push(textOf(stored))
      await gate.promise
      return handledOutcome(stored)
    },
    { concurrency: 1 },
  )
  await add(1, 'slow')
  await add(2, 'waiting')
  worker.start()
  await eventually(() => worker.stats().inFlight === 1)
  t.equal(await worker.stop(20), false)
  gate.resolve() // finishes after the stop: its outcome is not written
  const second: string[] = []
  const next = new Worker(
    store.queue,
    async (stored) => {
      second.push(textOf(stored))
      return handledOutcome(stored)
    },
    pino({ level: 'silent' }), OPTIONS)
  t.teardown(() => next.stop(0))
  next.start()
  await eventually(() => store.inStatus('done').length === 2)
  t.same(first, ['slow'])
  t.same(second.sort(), ['slow', 'waiting'], 'what the first left, the one it was running included')
  t.match(worker.stats(), { handled: 0 })
})

t.test('an outcome it cannot write leaves the record pending, handled again after a pause', async (t) => {
  let handled = 0
  let failures = 1
  const { worker, add, store, logs } = setup(
    t,
    async (stored) => {
      handled++
      return handledOutcome(stored)
    },
    { retryBaseMs: 10 },
    (base) => ({
      ...base,
      complete: async (claim, key) => {
        if (failures-- > 0) throw new StoreUnavailableError('the inbox cannot store events now')
        return base.complete(claim, key)
      },
    }),
  )
  await add(1, 'x')
  worker.start()
  await eventually(() => store.inStatus('done').length === 1)
  t.equal(handled, 2, 'at least once, never lost')
  t.match(logs.parsed(), [{ level: 50, msg: 'cannot record the outcome in the inbox', inboxId: 1, type: 'TEST', err: { message: 'the inbox cannot store events now' } }])
  t.equal(logs.lines.length, 1)
  t.match(worker.stats(), { handled: 1, inFlight: 0 })
  t.same([...store.seenKeys], ['key:x'], 'its key kept once the outcome is written')
})

t.test('an observer is told of each attempt, and of each outcome once it is written, with the dispatch time', async (t) => {
  const attempts: string[] = []
  const settled: Array<[string, Settlement, number, string | undefined]> = []
  let failures = 1
  const { worker, add, store } = setup(
    t,
    async (stored, attempt) => {
      const text = textOf(stored)
      if (text === 'slow') await new Promise((resolve) => setTimeout(resolve, 30))
      if (text === 'bad') throw new Undeliverable('/event is required')
      if (text === 'flaky') throw new Error(`broken on attempt ${attempt}`)
      return text === 'again' ? { key: `key:${text}`, skipped: 'duplicate' } : { key: `key:${text}` }
    },
    {
      maxAttempts: 2,
      observe: {
        attempting: (stored) => void attempts.push(`${textOf(stored)}#${stored.attempts}`),
        settled: (stored, settlement, ms, skipped) => void settled.push([textOf(stored), settlement, ms, skipped]),
      },
    },
    (base) => ({
      ...base,
      complete: async (claim, key) => {
        if (key === 'key:unwritten' && failures-- > 0) throw new StoreUnavailableError('the inbox cannot store events now')
        return base.complete(claim, key)
      },
    }),
  )
  for (const [chat, text] of [[1, 'slow'], [2, 'again'], [3, 'bad'], [4, 'flaky'], [5, 'unwritten']] as const) await add(chat, text)
  worker.start()
  await eventually(() => store.inStatus('done').length === 3 && store.inStatus('dead').length === 2)
  t.same(attempts.sort(), ['again#0', 'bad#0', 'flaky#0', 'flaky#1', 'slow#0', 'unwritten#0', 'unwritten#0'], 'an outcome that was not written is tried again from the same attempt')
  const bySettlement = settled.map(([text, settlement, , skipped]) => `${text}:${settlement}${skipped ? `:${skipped}` : ''}`).sort()
  t.same(bySettlement, ['again:skipped:duplicate', 'bad:rejected', 'flaky:dead-lettered', 'flaky:retried', 'slow:handled', 'unwritten:handled'], 'once per written outcome, a skip with its reason')
  const slow = settled.find(([text]) => text === 'slow') as [string, Settlement, number, undefined]
  t.ok(slow[2] >= 25 && slow[2] < 5000, `the dispatch time, ${slow[2]} ms`)
  t.ok(settled.every(([, , ms]) => ms >= 0))
})

t.test('claims that keep failing are told once, with the reason and no stack, and once when one goes through; the next notice claims again', async (t) => {
  const seen: string[] = []
  let claims = 0
  const { worker, add, logs } = setup(
    t,
    async (stored) => {
      seen.push(textOf(stored))
      return handledOutcome(stored)
    },
    {},
    (base) => ({
      ...base,
      claim: async (limit) => {
        if (++claims <= 3) throw new Error('database is locked')
        return base.claim(limit)
      },
    }),
  )
  worker.start()
  await eventually(() => claims === 1)
  await add(1, 'a')
  await eventually(() => claims === 2)
  await add(2, 'b')
  await eventually(() => claims === 3)
  t.same(seen, [], 'three claims failed')
  await add(3, 'c')
  await eventually(() => seen.length === 3)
  t.same(seen, ['a', 'b', 'c'])
  t.match(logs.parsed(), [
    { level: 50, msg: 'cannot read the inbox', reason: 'Error: database is locked' },
    { level: 30, msg: 'the inbox can be read again' },
  ])
  t.equal(logs.lines.length, 2, 'one line for three failures, one for the return')
  t.notMatch(logs.text(), /"err"|"stack"/)
})

t.test('PostgreSQL unreachable: one error line however many polls fail, without the connection string, one line when it is back', async (t) => {
  const { proxy, url } = await proxied(t, await testDatabase(t))
  // Trust authentication ignores a password: one is given, to be looked for in the log.
  const connection = new URL(url)
  connection.password ||= 'hunter2'
  const store = await openPgStore(t, { connectionString: connection.href, pollIntervalMs: 20 })
  let failed = 0
  const claim = store.queue.claim.bind(store.queue)
  store.queue.claim = async (limit) => {
    try {
      return await claim(limit)
    } catch (error) {
      failed++
      throw error
    }
  }
  const seen: string[] = []
  const logs = captureLogs()
  const worker = new Worker(
    store.queue,
    async (stored) => {
      seen.push(textOf(stored))
      return handledOutcome(stored)
    },
    pino(logs.stream),
    OPTIONS,
  )
  t.teardown(() => worker.stop(0))
  worker.start()
  await store.append(record(1, 'before'))
  await eventually(async () => seen.length === 1 && (await store.stats()).depth === 0)

  proxy.cut()
  await eventually(() => failed >= 5)
  t.match(store.unavailable(), /^PostgreSQL cannot be used: /, '/ready keeps the reason')
  t.match(logs.parsed(), [{ level: 50, msg: 'cannot read the inbox', reason: String }])
  t.equal(logs.lines.length, 1, `one line for ${failed} failed polls`)
  proxy.restore()
  await eventually(() => logs.lines.length === 2)
  t.match(logs.parsed()[1], { level: 30, msg: 'the inbox can be read again' })
  await store.append(record(1, 'after'))
  await eventually(() => seen.length === 2)
  t.equal(logs.lines.length, 2)
  t.notMatch(logs.text(), /"err"|"stack"|postgres:\/\//)
  t.notOk(logs.text().includes(connection.password), 'no password')
})

t.test('a claim that answers after the stop gives its records back untouched', async (t) => {
  let hold: ReturnType<typeof deferred<void>> | null = null
  let held = 0
  let claims = 0
  const released: number[] = []
  const dispatched: string[] = []
  const { worker, add, store } = setup(
    t,
    async (stored) => {
      dispatched.push(textOf(stored))
      return handledOutcome(stored)
    },
    {},
    (base) => ({
      ...base,
      claim: async (limit) => {
        claims++
        const gate = hold
        hold = null
        if (gate) {
          held++
          await gate.promise
        }
        return base.claim(limit)
      },
      release: async (claim) => {
        released.push(claim.id)
        await giving.promise
        return base.release(claim)
      },
    }),
  )
  const giving = deferred()
  const first = (hold = deferred())
  await add(1, 'first')
  worker.start()
  await eventually(() => held === 1)
  // A stop while a claim is under way waits for it, and finishes what it brings.
  const stopping = worker.stop(5000)
  first.resolve()
  t.equal(await stopping, true)
  t.same(dispatched, ['first'])

  const late = (hold = deferred())
  await add(2, 'late')
  worker.start()
  await eventually(() => held === 2)
  t.equal(await worker.stop(0), true)
  late.resolve()
  await eventually(() => released.length === 1)
  t.same(store.inStatus('pending').map(textOf), ['late'], 'given back untouched')
  // Started again while the store is still giving them back: it claims once they are back.
  const before = claims
  worker.start()
  await turn()
  await turn()
  t.equal(claims, before, 'no claim before the release is done')
  giving.resolve()
  await eventually(() => dispatched.length === 2)
  t.same(dispatched, ['first', 'late'], 'not dispatched after the stop; handled once started again')
  t.same(released, [2])
})

t.test('a record the store cannot give back is told, and stays claimed until its claim ends', async (t) => {
  let failures = 1
  const { worker, add, logs } = setup(
    t,
    async (stored) => handledOutcome(stored),
    { retryBaseMs: 10 },
    (base) => ({
      ...base,
      complete: async (claim, key) => {
        if (failures-- > 0) throw new StoreUnavailableError('the inbox cannot store events now')
        return base.complete(claim, key)
      },
      release: async () => Promise.reject(new StoreUnavailableError('the inbox cannot store events now')),
    }),
  )
  await add(1, 'x')
  worker.start()
  await eventually(() => logs.lines.length === 2)
  t.match(logs.parsed(), [
    { level: 50, msg: 'cannot record the outcome in the inbox', inboxId: 1 },
    { level: 50, msg: 'cannot give a claimed record back to the inbox', inboxId: 1, type: 'TEST', err: { message: 'the inbox cannot store events now' } },
  ])
  t.match(worker.stats(), { handled: 0, inFlight: 0 })
})

t.test('backs off exponentially with jitter, up to a cap', async (t) => {
  t.equal(backoff(1, 1000, 60000, () => 0), 500)
  t.equal(backoff(1, 1000, 60000, () => 1), 1000)
  t.equal(backoff(4, 1000, 60000, () => 1), 8000)
  t.equal(backoff(20, 1000, 60000, () => 1), 60000)
  for (let attempt = 1; attempt < 10; attempt++) {
    const delay = backoff(attempt, 100, 5000)
    t.ok(delay >= Math.min(5000, 100 * 2 ** (attempt - 1)) / 2 && delay <= 5000)
  }
})

t.test('a Postponed record waits its delay without spending an attempt, then is handled; a skipped one completes unhandled, counted as neither', async (t) => {
  const tries: Array<[string, number]> = []
  const settled: string[] = []
  const { worker, add, texts, store, logs } = setup(
    t,
    async (stored, attempt) => {
      tries.push([textOf(stored), attempt])
      if (textOf(stored) === 'dropped') return { key: null, skipped: 'dropped by a step' }
      if (tries.filter(([text]) => text === 'held').length < 3) throw new Postponed('not ready yet', 5)
      return handledOutcome(stored)
    },
    { maxAttempts: 1, observe: { attempting: () => undefined, settled: (_record, settlement, _ms, skipped) => void settled.push(skipped ? `${settlement}:${skipped}` : settlement) } },
  )
  await add(1, 'held')
  await add(2, 'dropped')
  worker.start()
  await eventually(() => texts('done').length === 2)
  t.same(
    tries.filter(([text]) => text === 'held'),
    [
      ['held', 1],
      ['held', 1],
      ['held', 1],
    ],
    'each try is still the first attempt: with maxAttempts 1 a failure would have buried it',
  )
  t.same(settled.sort(), ['handled', 'postponed', 'postponed', 'skipped:dropped by a step'])
  t.same(worker.stats(), { inFlight: 0, waiting: 0, handled: 1, duplicates: 0, rejected: 0, failedAttempts: 0, deadLettered: 0 }, 'neither a failure, nor a handled event, nor a duplicate')
  t.same(store.inStatus('dead'), [])
  t.notMatch(logs.text(), /will retry|dead letter/, 'a postponement is not logged as a failure')
})

t.test('an outcome the store refuses (the claim was lost, found out only as it is written) is written no further: settled as lost, one warn line each', async (t) => {
  const settled: Array<[string, Settlement]> = []
  const observe = { attempting: () => {}, settled: (stored: StoredRecord, settlement: Settlement) => void settled.push([textOf(stored), settlement]) }
  const refused: string[] = []
  // The store's fence refuses every outcome: another holder has each record now.
  const refuse = (write: string) => async () => {
    refused.push(write)
    return false
  }
  const fenced = (base: Queue): Queue => ({ ...base, complete: refuse('complete'), retry: refuse('retry'), bury: refuse('bury') })
  const { worker, add, logs } = setup(
    t,
    async (stored, attempt) => {
      const text = textOf(stored)
      if (text === 'postponed') throw new Postponed('not yet', 10)
      if (text === 'undeliverable') throw new Undeliverable('does not decode')
      if (text === 'failing') throw new Error(`boom ${attempt}`)
      return handledOutcome(stored)
    },
    { observe },
    fenced,
  )
  for (const [chat, text] of ['handled', 'postponed', 'undeliverable', 'failing'].entries()) await add(chat, text)
  worker.start()
  await eventually(() => settled.length === 4)
  t.same(settled.sort(), [['failing', 'lost'], ['handled', 'lost'], ['postponed', 'lost'], ['undeliverable', 'lost']], 'each settled as lost')
  t.same(refused.sort(), ['bury', 'complete', 'retry', 'retry'], 'each outcome tried once, through the fence')
  const lines = logs.parsed().filter((line) => String(line.msg).startsWith('the claim on this event was lost'))
  t.equal(lines.length, 4, 'one warn line each')
  t.notOk(logs.parsed().some((line) => String(line.msg).startsWith('handlers failed: will retry')), 'no retry told for a write refused')
})

t.test('a failure on its last attempt whose dead-lettering the store refuses is lost too', async (t) => {
  const settled: Settlement[] = []
  const observe = { attempting: () => {}, settled: (_: StoredRecord, settlement: Settlement) => void settled.push(settlement) }
  const { worker, add } = setup(t, async () => { throw new Error('boom') }, { observe, maxAttempts: 1 }, (base) => ({ ...base, bury: async () => false }))
  await add(1, 'last')
  worker.start()
  await eventually(() => settled.length === 1)
  t.same(settled, ['lost'])
})

t.test('an attempt waiting for room outside it lends its slot; a portal gets at most `concurrency` attempts under way', async (t) => {
  const room = deferred()
  const started: string[] = []
  const { worker, add, texts } = setup(
    t,
    async (stored, _attempt, _signal, wait = (waiting) => waiting) => {
      started.push(textOf(stored))
      // The first of portal `slow` waits for its bucket; everything else goes straight through.
      if (textOf(stored) === 'slow 1') await wait(room.promise)
      return handledOutcome(stored)
    },
    { concurrency: 1 },
  )
  await add('slow:1', 'slow 1')
  worker.start()
  await eventually(() => worker.stats().waiting === 1)
  await add('slow:2', 'slow 2')
  await add('fast:1', 'fast 1')
  await eventually(() => texts('done').includes('fast 1'))
  t.same(started, ['slow 1', 'fast 1'], 'the slot lent went to another portal; the waiting portal had its one attempt under way')
  t.same(worker.stats(), { inFlight: 1, waiting: 1, handled: 1, duplicates: 0, rejected: 0, failedAttempts: 0, deadLettered: 0 })
  room.resolve()
  await eventually(() => texts('done').length === 3)
  t.same(started, ['slow 1', 'fast 1', 'slow 2'], 'its next once the wait ended and the attempt was done')
  t.equal(worker.stats().waiting, 0)
})

t.test('attempts under way, waiting ones included, stay within eight times `concurrency`', async (t) => {
  const room = deferred()
  let waiting = 0
  const { worker, add, texts } = setup(
    t,
    async (stored, _attempt, _signal, wait = (waiting) => waiting) => {
      waiting++
      await wait(room.promise)
      return handledOutcome(stored)
    },
    { concurrency: 1 },
  )
  for (let portal = 1; portal <= 10; portal++) await add(`p${portal}:1`, `event ${portal}`)
  worker.start()
  await eventually(() => waiting === 8)
  // Whatever the worker would do next, it would have done by now: a claim is a turn of the loop.
  for (let i = 0; i < 5; i++) await turn()
  t.equal(worker.stats().inFlight, 8, 'eight under way, all waiting; two left pending')
  room.resolve()
  await eventually(() => texts('done').length === 10)
})

t.test('a wait that begins after its attempt settled (a handler still running past its timeout) lends nothing', async (t) => {
  let late: Wait | undefined
  const { worker, add, texts } = setup(
    t,
    async (stored, _attempt, _signal, wait = (waiting) => waiting) => {
      late = wait
      return handledOutcome(stored)
    },
    { concurrency: 1 },
  )
  await add(1, 'first')
  worker.start()
  await eventually(() => texts('done').length === 1)
  const room = deferred()
  const waited = (late as Wait)(room.promise)
  await turn()
  t.equal(worker.stats().waiting, 0, 'its slot was free already: not lent again')
  room.resolve()
  await waited
})

t.test('while stopping, a waiting attempt lends its slot to nothing new', async (t) => {
  const room = deferred()
  const started: string[] = []
  const { worker, add } = setup(
    t,
    async (stored, _attempt, _signal, wait = (waiting) => waiting) => {
      started.push(textOf(stored))
      if (textOf(stored) === 'waiting') await wait(room.promise)
      return handledOutcome(stored)
    },
    { concurrency: 1 },
  )
  await add('a:1', 'waiting')
  worker.start()
  await eventually(() => worker.stats().waiting === 1)
  const stopped = worker.stop(10_000)
  await add('b:1', 'would start')
  for (let i = 0; i < 5; i++) await turn()
  t.same(started, ['waiting'], 'nothing claimed into the lent slot')
  room.resolve()
  t.equal(await stopped, true)
})
