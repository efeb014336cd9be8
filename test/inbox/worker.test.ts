import t from 'tap'
import { pino } from 'pino'
import { Inbox } from '../../src/inbox/inbox.ts'
import { openDatabase } from '../../src/inbox/open-database.ts'
import { Worker, type WorkerOptions } from '../../src/inbox/worker.ts'
import { chatKey, dedupKey } from '../../src/event/event-keys.ts'
import { backoff } from '../../src/inbox/backoff.ts'
import { decodeBody } from '../../src/event/decode-body.ts'
import { Router } from '../../src/router/router.ts'
import { samplePayload } from '../../src/simulate/sample-payload.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { captureLogs, eventually } from '../helpers.ts'

const OPTIONS: WorkerOptions = { concurrency: 4, maxAttempts: 3, retryBaseMs: 5, retryMaxMs: 20, pollIntervalMs: 50 }

function setup(t: { testdir(): string; teardown(fn: () => unknown): void }, router: Router, options: Partial<WorkerOptions> = {}) {
  const logs = captureLogs()
  const db = openDatabase(t.testdir())
  const inbox = new Inbox(db, { dedupWindowMs: 60000 })
  const worker = new Worker(inbox, router, pino(logs.stream), { ...OPTIONS, ...options })
  t.teardown(async () => {
    await worker.stop(100)
    inbox.close()
  })
  let ts = 1_800_000_000
  const add = (chatId: number, text: string) => {
    const inbound = decodeBody(encodeForm(samplePayload({ type: 'ONIMV2MESSAGEADD', token: 'x', chatId, text, ts: ts++ }) as PhpValue))
    const key = dedupKey(inbound)
    return inbox.add({ inbound, dedupKey: key, chatKey: chatKey(inbound, key) })
  }
  return { inbox, worker, logs, add, db }
}

const textOf = (event: { data: unknown }) => (event.data as { message: { text: string } }).message.text

t.test('handles what was pending before it started, then what arrives', async (t) => {
  const router = new Router()
  const seen: string[] = []
  router.onAny((event) => void seen.push(textOf(event)))
  const { worker, add, inbox } = setup(t, router)
  await add(1, 'left by a previous run')
  worker.start()
  await add(1, 'new')
  await eventually(() => seen.length === 2)
  t.same(seen, ['left by a previous run', 'new'])
  await eventually(() => inbox.stats().depth === 0)
  t.match(worker.stats(), { handled: 2, failedAttempts: 0, inFlight: 0 })
})

t.test('retries a failing event with backoff, telling the handler which attempt it is', async (t) => {
  const router = new Router()
  const attempts: Array<[number, number]> = []
  router.onAny((_event, ctx) => {
    attempts.push([ctx.attempt, Date.now()])
    if (ctx.attempt < 3) throw new Error(`fail ${ctx.attempt}`)
  })
  const { worker, add, inbox, logs } = setup(t, router, { maxAttempts: 5, retryBaseMs: 40, retryMaxMs: 1000 })
  worker.start()
  await add(1, 'flaky')
  await eventually(() => inbox.stats().depth === 0)
  t.same(attempts.map(([attempt]) => attempt), [1, 2, 3])
  const gaps = attempts.slice(1).map(([, at], i) => at - (attempts[i] as [number, number])[1])
  t.ok((gaps[0] as number) >= 20 && (gaps[1] as number) >= 40, `backoff grows: ${gaps.join(', ')} ms`)
  t.match(logs.parsed().filter((line) => line.msg === 'handlers failed: will retry'), [{ attempt: 1 }, { attempt: 2 }])
  t.match(worker.stats(), { handled: 1, failedAttempts: 2 })
})

t.test('moves an event that keeps failing to the dead letter with its last error', async (t) => {
  const router = new Router()
  router.onAny((_event, ctx) => {
    throw new Error(`still broken on attempt ${ctx.attempt}`)
  })
  const { worker, add, inbox } = setup(t, router)
  worker.start()
  await add(1, 'doomed')
  await add(1, 'next in the chat')
  await eventually(() => inbox.stats().deadLetters === 2)
  t.match(inbox.deadLetters(), [
    { attempts: 3, error: 'Error: still broken on attempt 3', event: { data: { message: { text: 'doomed' } } } },
    { attempts: 3, event: { data: { message: { text: 'next in the chat' } } } },
  ])
  t.match(worker.stats(), { deadLettered: 2, failedAttempts: 6 })
})

t.test('keeps arrival order within a chat while chats run in parallel', async (t) => {
  const router = new Router()
  const seen = new Map<number, string[]>()
  let running = 0
  let most = 0
  router.onAny(async (event, ctx) => {
    running++
    most = Math.max(most, running)
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 8))
    if (Math.random() < 0.2 && ctx.attempt === 1) {
      running--
      throw new Error('a transient failure')
    }
    const chat = (event.data as { chat: { id: number } }).chat.id
    seen.set(chat, [...(seen.get(chat) ?? []), textOf(event)])
    running--
  })
  const { worker, add, inbox } = setup(t, router, { concurrency: 3, maxAttempts: 10 })
  worker.start()
  const sent = new Map<number, string[]>()
  for (let i = 0; i < 60; i++) {
    const chat = (i % 5) + 1
    sent.set(chat, [...(sent.get(chat) ?? []), `message ${i}`])
    await add(chat, `message ${i}`)
  }
  await eventually(() => inbox.stats().depth === 0, 10000)
  t.same(Object.fromEntries([...seen].sort()), Object.fromEntries([...sent].sort()))
  t.ok(most > 1, `chats ran in parallel (up to ${most})`)
  t.ok(most <= 3, 'within the concurrency limit')
})

t.test('a handler past its time counts as failed and is retried', async (t) => {
  const router = new Router({ handlerTimeoutMs: 20 })
  const attempts: number[] = []
  router.onAny(async (_event, ctx) => {
    attempts.push(ctx.attempt)
    if (ctx.attempt === 1) await new Promise((resolve) => setTimeout(resolve, 200))
  })
  const { worker, add, inbox } = setup(t, router)
  worker.start()
  await add(1, 'slow')
  await eventually(() => inbox.stats().depth === 0)
  t.same(attempts, [1, 2])
})

t.test('stopping finishes what is due, and leaves the rest pending for the next start', async (t) => {
  const router = new Router()
  const seen: string[] = []
  router.onAny(async (event) => {
    await new Promise((resolve) => setTimeout(resolve, 30))
    seen.push(textOf(event))
  })
  const { worker, add, inbox } = setup(t, router, { concurrency: 1 })
  await add(1, 'a')
  await add(2, 'b')
  worker.start()
  t.equal(await worker.stop(1000), true)
  t.same(seen, ['a', 'b'])
  const { worker: hurried, add: addMore } = setup(t, router, { concurrency: 1 })
  void hurried
  t.equal(inbox.stats().depth, 0)
  await addMore(3, 'c')
})

t.test('stopping at the deadline leaves unfinished events in the inbox', async (t) => {
  const router = new Router()
  let release = () => {}
  router.onAny(() => new Promise<void>((resolve) => (release = resolve)))
  const { worker, add, inbox } = setup(t, router)
  worker.start()
  await add(1, 'stuck')
  await eventually(() => worker.stats().inFlight === 1)
  t.equal(await worker.stop(30), false)
  release()
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(inbox.stats().depth, 1, 'still there for the next start')
})

t.test('an outcome it cannot record leaves the event pending, handled again after a pause', async (t) => {
  const router = new Router()
  let handled = 0
  router.onAny(() => void handled++)
  const { worker, add, inbox, logs } = setup(t, router, { retryBaseMs: 30 })
  await add(1, 'x')
  const complete = inbox.complete.bind(inbox)
  let failures = 1
  inbox.complete = (id) => {
    if (failures-- > 0) throw new Error('disk I/O error')
    complete(id)
  }
  worker.start()
  await eventually(() => inbox.stats().depth === 0)
  t.equal(handled, 2, 'at least once, never lost')
  t.match(logs.parsed(), [{ msg: 'cannot record the outcome in the inbox', err: { message: 'disk I/O error' } }])
})

t.test('an unreadable inbox is logged and tried again', async (t) => {
  const router = new Router()
  let handled = 0
  router.onAny(() => void handled++)
  const { worker, inbox, logs, add } = setup(t, router, { pollIntervalMs: 10 })
  await add(1, 'x')
  const load = inbox.load.bind(inbox)
  const changedElsewhere = inbox.changedElsewhere.bind(inbox)
  let loads = 0
  let checks = 0
  inbox.load = (id) => {
    if (loads++ === 0) throw new Error('database is locked')
    return load(id)
  }
  inbox.changedElsewhere = () => {
    if (checks++ === 1) throw new Error('database is locked')
    return changedElsewhere()
  }
  worker.start()
  await eventually(() => handled === 1)
  t.match(logs.parsed().filter((line) => line.msg === 'cannot read the inbox'), [{ err: { message: 'database is locked' } }, { err: { message: 'database is locked' } }])
})

t.test('sees events replayed or dropped by another process', async (t) => {
  const router = new Router()
  const seen: string[] = []
  let calls = 0
  router.onAny((event) => {
    if (calls++ === 0) throw new Error('boom')
    seen.push(textOf(event))
  })
  const { worker, inbox, add, db } = setup(t, router, { pollIntervalMs: 10, maxAttempts: 1 })
  worker.start()
  await add(1, 'fails once')
  await eventually(() => inbox.stats().deadLetters === 1)
  const [letter] = inbox.deadLetters()
  const other = new Inbox(openDatabase(db.name.replace(/\/inbox\.db$/, '')), { dedupWindowMs: 1 })
  other.revive(letter?.id as number, letter?.event as never, null)
  other.close()
  await eventually(() => seen.length === 1)
  t.same(seen, ['fails once'])
})

t.test('skips an event that is gone when its turn comes', async (t) => {
  const router = new Router()
  const seen: string[] = []
  router.onAny((event) => void seen.push(textOf(event)))
  const { worker, inbox, add } = setup(t, router)
  await add(1, 'gone')
  await add(1, 'next')
  const load = inbox.load.bind(inbox)
  let first = true
  inbox.load = (id) => {
    if (!first) return load(id)
    first = false
    return null
  }
  worker.start()
  await eventually(() => seen.length === 1)
  t.same(seen, ['next'])
})

t.test('a dead letter replayed while its chat is busy rejoins in its arrival place', async (t) => {
  const router = new Router()
  const seen: string[] = []
  let release = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  let failedOnce = false
  router.onAny(async (event) => {
    const text = textOf(event)
    if (text === 'A' && !failedOnce) {
      failedOnce = true
      throw new Error('down')
    }
    if (text === 'B') await gate
    seen.push(text)
  })
  const { worker, inbox, add } = setup(t, router, { maxAttempts: 1 })
  worker.start()
  await add(1, 'A')
  await eventually(() => inbox.stats().deadLetters === 1)
  await add(1, 'B')
  await add(1, 'C')
  await eventually(() => worker.stats().inFlight === 1)
  const [letter] = inbox.deadLetters()
  inbox.revive(letter?.id as number, letter?.event as never, null)
  release()
  await eventually(() => seen.length === 3)
  t.same(seen, ['B', 'A', 'C'], 'B was running; then A, older than C')
})

t.test('records what a handler threw, whatever it threw', async (t) => {
  const router = new Router()
  router.onAny(() => {
    throw 'a bare string'
  })
  const { worker, add, inbox } = setup(t, router, { maxAttempts: 1 })
  worker.start()
  await add(1, 'x')
  await eventually(() => inbox.stats().deadLetters === 1)
  t.equal(inbox.deadLetters()[0]?.error, 'a bare string')
})

t.test('a worker stopped before its first turn takes nothing', async (t) => {
  const router = new Router()
  let handled = 0
  router.onAny(() => void handled++)
  const { worker, add } = setup(t, router)
  await add(1, 'x')
  worker.start()
  t.equal(await worker.stop(0), true)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(handled, 0)
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
