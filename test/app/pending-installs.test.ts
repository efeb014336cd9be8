import t from 'tap'
import { pino } from 'pino'
import { PendingInstalls, type Confirmation, type PendingInstallsOptions } from '../../src/app/pending-installs.ts'
import { ManualClock } from '../fakes/manual-clock.ts'
import { captureLogs, eventually } from '../helpers.ts'

/** A confirmation the test answers when it likes. */
interface Call {
  id: number
  at: number
  answer(outcome: Confirmation | Error): void
}

/** Pending installs on a manual clock, each confirmation waiting for the test to answer it. */
function pendingInstalls(options: Partial<PendingInstallsOptions> = {}) {
  const clock = new ManualClock()
  const calls: Call[] = []
  const open: Call[] = []
  const logs = captureLogs()
  const pending = new PendingInstalls({
    confirm: (id) =>
      new Promise<Confirmation>((resolve, reject) => {
        const call: Call = {
          id,
          at: clock.now(),
          answer: (outcome) => {
            open.splice(open.indexOf(call), 1)
            if (outcome instanceof Error) reject(outcome)
            else resolve(outcome)
          },
        }
        calls.push(call)
        open.push(call)
      }),
    logger: pino(logs.stream),
    maxInFlight: 4,
    retryBaseMs: 2000,
    retryMaxMs: 300000,
    clock,
    ...options,
  })
  /** Answers every confirmation in flight alike, and waits until what that starts has started. */
  const answerAll = async (outcome: Confirmation | Error) => {
    for (const call of [...open]) call.answer(outcome)
    await settle()
  }
  return { pending, clock, calls, open, logs, answerAll }
}

/** Lets the promises answered so far run their course. */
const settle = () => new Promise((resolve) => setImmediate(resolve))

t.test('at most maxInFlight confirmations at once, one per candidate; each next one starts when one ends', async (t) => {
  const { pending, calls, open, answerAll } = pendingInstalls()
  t.teardown(() => pending.stop())
  for (let id = 1; id <= 10; id++) pending.schedule(id)
  pending.schedule(1)
  t.same(
    open.map((call) => call.id),
    [1, 2, 3, 4],
    'four in flight, oldest first',
  )
  t.same(pending.figures(), { waiting: 10, inFlight: 4, restingUntil: null })
  open[0]?.answer('answered')
  await settle()
  t.same(
    open.map((call) => call.id),
    [2, 3, 4, 5],
  )
  await answerAll('answered')
  await answerAll('gone')
  t.same(
    open.map((call) => call.id),
    [10],
  )
  await answerAll('answered')
  t.equal(calls.length, 10, 'each candidate asked about once')
  t.same(pending.figures(), { waiting: 0, inFlight: 0, restingUntil: null })
})

t.test('a candidate whose confirmation fails (the store) is tried again after 2 s, 4 s, 8 s … up to the cap; the OAuth server is not blamed', async (t) => {
  const { pending, clock, calls, logs, answerAll } = pendingInstalls({ retryMaxMs: 10000 })
  t.teardown(() => pending.stop())
  const start = clock.now()
  pending.schedule(7)
  for (let i = 0; i < 5; i++) {
    await answerAll(new Error('the store is down'))
    clock.advance(clock.next! - clock.now())
    await settle()
  }
  t.same(
    calls.map((call) => call.at - start),
    [0, 2000, 6000, 14000, 24000, 34000],
    'doubling from 2 s, capped',
  )
  t.match(logs.text(), /cannot confirm a pending install now: will try again/)
  t.equal(pending.acquire() !== null, true, 'the door may still ask: the OAuth server did not fail')
})

t.test('a candidate tried before waits its pause; one due sooner is woken for first', async (t) => {
  const { pending, clock, calls } = pendingInstalls()
  t.teardown(() => pending.stop())
  const start = clock.now()
  pending.schedule(1, 3)
  t.equal(clock.next, start + 8000)
  pending.schedule(2, 1)
  t.equal(clock.next, start + 2000, 'the timer moved to the sooner one')
  t.equal(clock.timers, 1, 'one timer')
  pending.acquire()?.release(true)
  t.equal(clock.timers, 1, 'the door asking meanwhile leaves it')
  clock.advance(1999)
  t.equal(calls.length, 0)
  clock.advance(1)
  t.same(
    calls.map((call) => call.id),
    [2],
  )
  clock.advance(6000)
  t.same(
    calls.map((call) => call.id),
    [2, 1],
  )
})

t.test('once the OAuth server does not answer, nobody asks during a pause; then one asks alone; its answer lets the others through', async (t) => {
  const { pending, clock, calls, open, answerAll } = pendingInstalls()
  t.teardown(() => pending.stop())
  const start = clock.now()
  for (let id = 1; id <= 50; id++) pending.schedule(id)
  await answerAll('unanswered')
  t.equal(calls.length, 4, 'the four in flight when it failed')
  t.same(pending.figures(), { waiting: 50, inFlight: 0, restingUntil: start + 2000 })
  t.equal(pending.acquire(), null, 'the door does not ask either')
  clock.advance(1999)
  t.equal(calls.length, 4, 'nobody during the pause')
  clock.advance(1)
  t.equal(open.length, 1, 'one alone after it')
  await answerAll('unanswered')
  t.same(pending.figures().restingUntil, start + 2000 + 4000, 'a lone try that fails doubles the pause')
  clock.advance(4000)
  await answerAll('unanswered')
  clock.advance(8000)
  t.equal(open.length, 1)
  await answerAll('answered')
  t.equal(open.length, 4, 'answered: four at once again')
  t.same(pending.figures().restingUntil, null)
  for (let round = 0; round < 20 && open.length > 0; round++) await answerAll('answered')
  t.equal(calls.length, 4 + 3 + 50 - 1, 'the outage cost one call per pause, not one per candidate')
  t.same(pending.figures(), { waiting: 0, inFlight: 0, restingUntil: null })
})

t.test('a try started before the pause that fails late does not lengthen it; one settled elsewhere says nothing of the server', async (t) => {
  const { pending, clock, open } = pendingInstalls({ maxInFlight: 2 })
  t.teardown(() => pending.stop())
  const start = clock.now()
  pending.schedule(1)
  pending.schedule(2)
  pending.schedule(3)
  open[0]?.answer('unanswered')
  await settle()
  t.equal(pending.figures().restingUntil, start + 2000)
  clock.advance(500)
  open[0]?.answer('unanswered')
  await settle()
  t.equal(pending.figures().restingUntil, start + 2000, 'unchanged')
  clock.advance(1500)
  t.equal(open.length, 1, 'one alone')
  open[0]?.answer('gone')
  await settle()
  t.equal(pending.figures().restingUntil, start + 2000, 'still resting: nobody was asked')
  t.equal(open.length, 1, 'another asks alone')
})

t.test('the door takes a slot only while one is free and the server answers; it gives it back once, with what it heard', async (t) => {
  const { pending, clock, open } = pendingInstalls({ maxInFlight: 2 })
  t.teardown(() => pending.stop())
  const a = pending.acquire()
  const b = pending.acquire()
  t.ok(a && b)
  t.equal(pending.acquire(), null, 'none free')
  pending.schedule(1)
  t.equal(open.length, 0, 'a candidate waits for a slot too')
  a?.release(true)
  a?.release(false)
  t.equal(open.length, 1, 'the slot given back goes to the candidate')
  t.same(pending.figures().restingUntil, null, 'a second release is ignored')
  b?.release(false)
  t.same(pending.figures().restingUntil, clock.now() + 2000)
  t.equal(pending.acquire(), null, 'resting')
})

t.test('stop: what waits is dropped, nothing more starts', async (t) => {
  const { pending, clock, calls, open, answerAll } = pendingInstalls()
  pending.schedule(1)
  await answerAll('unanswered')
  pending.schedule(2)
  t.equal(clock.timers, 1)
  const door = pending.acquire()
  t.equal(door, null, 'resting')
  clock.advance(2000)
  t.equal(open.length, 1, 'a lone try in flight')
  pending.stop()
  await answerAll('answered')
  t.equal(clock.timers, 0, 'no timer')
  pending.schedule(3)
  t.equal(pending.acquire(), null)
  clock.advance(600000)
  t.equal(calls.length, 2, 'the one in flight finished, nothing more started')
  t.same(pending.figures(), { waiting: 0, inFlight: 0, restingUntil: null })
})

t.test('with the system clock, a pause is real time', async (t) => {
  let calls = 0
  const pending = new PendingInstalls({
    confirm: async () => (++calls === 1 ? 'unanswered' : 'answered'),
    logger: pino({ level: 'silent' }),
    maxInFlight: 1,
    retryBaseMs: 20,
    retryMaxMs: 20,
    clock: (await import('../../src/clock.ts')).systemClock,
  })
  t.teardown(() => pending.stop())
  pending.schedule(1)
  await eventually(() => calls === 2 && pending.figures().waiting === 0)
})

t.test('a candidate due now with every slot taken waits for a slot, not a timer; the timer of a later one comes back after', async (t) => {
  const { pending, clock, calls, answerAll } = pendingInstalls({ maxInFlight: 1 })
  t.teardown(() => pending.stop())
  const start = clock.now()
  pending.schedule(1)
  await answerAll(new Error('the store is down'))
  t.equal(clock.next, start + 2000)
  const door = pending.acquire()
  pending.schedule(2)
  t.equal(clock.timers, 0, 'no timer while the one due waits for the slot')
  door?.release(true)
  t.same(
    calls.map((call) => call.id),
    [1, 2],
  )
  t.equal(clock.next, start + 2000, 'the later one’s timer again')
})
