import t from 'tap'
import { BitrixError } from '../../src/bitrix/bitrix-error.ts'
import { Pacer, PACER_DEFAULTS, type PacerOptions } from '../../src/bitrix/pacer.ts'
import type { RestObserver } from '../../src/bitrix/rest-observer.ts'
import { ProcessRestBuckets } from '../../src/store/process-rest-buckets.ts'
import type { BucketTake, RestBuckets } from '../../src/store/rest-buckets.ts'
import type { Wait } from '../../src/wait.ts'
import { ManualClock } from '../fakes/manual-clock.ts'

const HOST = 'p.bitrix24.com'
/** Two calls of room (the threshold less the margin), one more a second. */
const SMALL = { drainPerSecond: 1, threshold: 4 }

/** Lets the promises settle that what was just done set going (a take from the buckets, a grant). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve))

/** A pacer on a manual clock over buckets of its own that count their takes. */
function paced(options: Partial<PacerOptions> = {}) {
  const clock = new ManualClock()
  const inner = new ProcessRestBuckets(() => clock.now())
  const takes: number[] = []
  const buckets: RestBuckets = {
    take: (portal, want, rate) => {
      takes.push(want)
      return inner.take(portal, want, rate)
    },
    fill: (portal, rate) => inner.fill(portal, rate),
  }
  const seen = { called: [] as string[], limited: [] as string[], waited: [] as string[] }
  const observe: RestObserver = {
    called: (method, outcome) => void seen.called.push(`${method} ${outcome}`),
    limited: (code) => void seen.limited.push(code),
    waited: (reason, seconds) => void seen.waited.push(`${reason} ${seconds}`),
  }
  const pacer = new Pacer({ buckets: () => buckets, rates: { rate: SMALL, portals: {} }, clock, observe, ...options })
  /** Starts a take; `done()` tells whether it has resolved, `result` how it ended. */
  const start = (method = 'imbot.v2.Chat.Message.send', more: Parameters<Pacer['take']>[2] = {}) => {
    let state: 'waiting' | 'done' | 'failed' = 'waiting'
    const result = pacer.take(HOST, method, more).then(
      () => void (state = 'done'),
      (error: unknown) => {
        state = 'failed'
        throw error
      },
    )
    result.catch(() => undefined)
    return { result, state: () => state }
  }
  return { clock, pacer, takes, seen, start, inner }
}

t.test("callers of a portal are served in arrival order as its bucket has room, slots taken a few at a time", async (t) => {
  const { clock, takes, start, seen, pacer } = paced({ leaseAtMost: 3 })
  const calls = Array.from({ length: 5 }, () => start('m', { signal: new AbortController().signal }))
  await settle()
  t.same(calls.map((call) => call.state()), ['done', 'done', 'waiting', 'waiting', 'waiting'], 'two calls of room')
  t.same(takes, [1, 3], 'the first asks for itself; the next take for all those waiting by then, 3 at most')
  t.same(pacer.levels(), [{ portal: HOST, level: 2, threshold: 4, waiting: 3 }])
  clock.advance(999)
  await settle()
  t.equal(calls[2]?.state(), 'waiting', 'not before a slot drained')
  clock.advance(1)
  await settle()
  t.same(calls.map((call) => call.state()), ['done', 'done', 'done', 'waiting', 'waiting'])
  clock.advance(1000)
  await settle()
  t.equal(calls[3]?.state(), 'done')
  clock.advance(1000)
  await settle()
  t.equal(calls[4]?.state(), 'done')
  t.same(takes, [1, 3, 3, 2, 1], 'each take asks for as many as wait')
  t.same(seen.waited, ['bucket 0', 'bucket 0', 'bucket 1', 'bucket 2', 'bucket 3'])
  t.equal(clock.timers, 0, 'nothing left planned')
})

t.test('a call with no room yet waits through `wait`; one with room waits for the bucket only', async (t) => {
  const { clock, start } = paced()
  const waits: string[] = []
  const wait: Wait = async (waiting) => {
    waits.push('begin')
    try {
      return await waiting
    } finally {
      waits.push('end')
    }
  }
  const [a, b, c] = [start('a', { wait }), start('b', { wait }), start('c', { wait })]
  await settle()
  t.same([a.state(), b.state(), c.state()], ['done', 'done', 'waiting'])
  t.same(waits, ['begin', 'begin', 'begin', 'end', 'end'], 'every take from the bucket is a wait')
  clock.advance(1000)
  await settle()
  t.equal(c.state(), 'done')
  t.same(waits.length, 6)
})

t.test('slots taken and not given (their caller gone) go to the next caller without asking the bucket', async (t) => {
  const clock = new ManualClock()
  let answer: (take: BucketTake) => void = () => undefined
  const asked: number[] = []
  const buckets: RestBuckets = {
    take: (_portal, want) => {
      asked.push(want)
      return new Promise((resolve) => (answer = resolve))
    },
    fill: async () => undefined,
  }
  const pacer = new Pacer({ buckets: () => buckets, clock })
  const abort = new AbortController()
  const first = pacer.take(HOST, 'a', { signal: abort.signal })
  const second = pacer.take(HOST, 'b')
  await settle()
  t.same(asked, [1], 'one take at a time')
  abort.abort(new Error('gone'))
  await t.rejects(first, { message: 'gone' })
  answer({ granted: 1, retryInMs: 0, level: 1 })
  await second
  t.same(asked, [1], 'the slot went to the one still waiting')
  // Two more wait for one take; one leaves before it is answered: its slot stays here for the next.
  const third = new AbortController()
  const waiting = [pacer.take(HOST, 'c', { signal: third.signal }), pacer.take(HOST, 'd')]
  await settle()
  t.same(asked, [1, 1], 'asked for the first; the second waits for that take')
  third.abort(new Error('gone too'))
  await t.rejects(waiting[0] as Promise<void>, { message: 'gone too' })
  answer({ granted: 2, retryInMs: 0, level: 3 })
  await waiting[1]
  await pacer.take(HOST, 'e')
  t.same(asked, [1, 1], 'the spare slot served the next call at once')
})

t.test('the signal ends a wait early with its reason; the deadline with a transient error', async (t) => {
  const { clock, start, pacer } = paced()
  start()
  start()
  const abort = new AbortController()
  const waiting = start('m', { signal: abort.signal })
  const late = start('m', { until: clock.now() + 500 })
  await settle()
  t.same(pacer.levels()[0], { portal: HOST, level: 2, threshold: 4, waiting: 2 })
  abort.abort(new Error('attempt abandoned'))
  await t.rejects(waiting.result, { message: 'attempt abandoned' })
  t.equal(pacer.levels()[0]?.waiting, 1, 'it left the line')
  clock.advance(500)
  const error = await late.result.catch((e: unknown) => e)
  t.ok(error instanceof BitrixError)
  t.match(error, { code: 'QUERY_LIMIT_EXCEEDED', method: 'm', transient: true, description: /longest wait \(900000 ms\) for the portal's bucket/ })
  const before = new AbortController()
  before.abort(new Error('stopped already'))
  await t.rejects(pacer.take(HOST, 'm', { signal: before.signal }), { message: 'stopped already' })
  clock.advance(1000)
  await settle()
  t.equal(clock.timers, 0)
})

t.test('OPERATION_TIME_LIMIT holds that method of that portal until the reset the portal said, read on this clock', async (t) => {
  const { clock, start, pacer, seen } = paced({ rates: { rate: { drainPerSecond: 100, threshold: 1000 }, portals: {} } })
  const now = clock.now()
  // The portal's clock runs 10 s behind this one: its reset, 10 s from now by its clock, is 20 s from now by this one.
  const time = { finish: (now - 10_000) / 1000, operating_reset_at: (now + 10_000) / 1000, operating: 490 }
  await pacer.answered(HOST, 'crm.deal.list', new BitrixError('crm.deal.list', 'OPERATION_TIME_LIMIT', 429, ''), time)
  t.same(seen.limited, ['OPERATION_TIME_LIMIT'])
  t.same(seen.called, ['crm.deal.list limited'])
  const held = start('crm.deal.list', { signal: new AbortController().signal })
  const other = start('crm.deal.add')
  const elsewhere = pacer.take('q.bitrix24.com', 'crm.deal.list')
  await settle()
  t.equal(other.state(), 'done', 'other methods go on')
  await elsewhere
  t.equal(held.state(), 'waiting')
  clock.advance(19_999)
  await settle()
  t.equal(held.state(), 'waiting', 'held for the 20 s the portal said')
  clock.advance(1)
  await settle()
  t.equal(held.state(), 'done')
  t.ok(seen.waited.includes('held 20'))
  // A hold past the deadline fails at once, not after waiting.
  await pacer.answered(HOST, 'crm.deal.list', new BitrixError('crm.deal.list', 'OPERATION_TIME_LIMIT', 429, ''), { operating_reset_at: (clock.now() + 60_000) / 1000 })
  await t.rejects(pacer.take(HOST, 'crm.deal.list', { until: clock.now() + 30_000 }), { code: 'OPERATION_TIME_LIMIT', transient: true, description: /operating time/ })
  const abort = new AbortController()
  const aborted = start('crm.deal.list', { signal: abort.signal })
  await settle()
  abort.abort(new Error('gone'))
  await t.rejects(aborted.result, { message: 'gone' }, 'the signal ends a hold early')
})

t.test('a hold the portal did not time backs off, doubling to its cap; a reset said in the past still holds a little, one too far is capped', async (t) => {
  const { clock, pacer } = paced({ holdBaseMs: 1000, holdMaxMs: 3000 })
  const limited = (time: unknown = undefined) => pacer.answered(HOST, 'm', new BitrixError('m', 'OPERATION_TIME_LIMIT', 429, ''), time)
  const heldFor = async () => {
    const started = clock.now()
    const take = pacer.take(HOST, 'm')
    while (clock.next !== null) {
      clock.advance(clock.next - clock.now())
      await settle()
    }
    await take
    return clock.now() - started
  }
  await limited()
  t.equal(await heldFor(), 1000)
  await limited()
  t.equal(await heldFor(), 2000)
  await limited('not an object')
  t.equal(await heldFor(), 3000)
  await limited()
  t.equal(await heldFor(), 3000, 'capped')
  await pacer.answered(HOST, 'm', null, { operating: 1, operating_reset_at: 'soon' })
  await limited()
  t.equal(await heldFor(), 1000, 'an answer in between starts the backoff again')
  await limited({ operating_reset_at: clock.now() / 1000 - 60 })
  t.equal(await heldFor(), 1000, 'a reset in the past: held the least')
  await limited({ operating_reset_at: clock.now() / 1000 + 86400 })
  t.equal(await heldFor(), 11 * 60_000, 'a day: no more than the window and a minute')
})

t.test("a method past 80% of its operating time is spaced out until the portal's reset", async (t) => {
  const { clock, start, pacer, seen } = paced({ operatingLimitSeconds: 100, spacingMs: 3000, rates: { rate: { drainPerSecond: 100, threshold: 1000 }, portals: {} } })
  const reset = (ms: number) => (clock.now() + ms) / 1000
  await pacer.answered(HOST, 'm', null, { operating: 79, operating_reset_at: reset(10_000) })
  t.equal((await Promise.all([pacer.take(HOST, 'm'), pacer.take(HOST, 'm')])).length, 2, 'below 80%: not spaced')
  await pacer.answered(HOST, 'm', null, { operating: 80, operating_reset_at: reset(10_000) })
  const calls = [start('m'), start('m'), start('m'), start('other')]
  await settle()
  t.same(calls.map((call) => call.state()), ['done', 'waiting', 'waiting', 'done'])
  clock.advance(3000)
  await settle()
  t.same(calls.map((call) => call.state()), ['done', 'done', 'waiting', 'done'])
  clock.advance(3000)
  await settle()
  t.equal(calls[2]?.state(), 'done')
  t.ok(seen.waited.includes('spaced 3') && seen.waited.includes('spaced 6'))
  clock.advance(4000)
  await Promise.all([pacer.take(HOST, 'm'), pacer.take(HOST, 'm')])
  t.pass('after the reset: not spaced')
  await pacer.answered(HOST, 'm', null, { operating: 90, operating_reset_at: reset(60_000) })
  await pacer.take(HOST, 'm')
  const spaced = start('m')
  await settle()
  t.equal(spaced.state(), 'waiting')
  clock.advance(3000)
  await spaced.result
  await pacer.answered(HOST, 'm', null, { operating: 10, operating_reset_at: reset(60_000) })
  await Promise.all([pacer.take(HOST, 'm'), pacer.take(HOST, 'm')])
  t.pass('an answer below 80% ends the spacing')
  await pacer.answered(HOST, 'n', null, { operating: 95, operating_reset_at: reset(-1000) })
  await Promise.all([pacer.take(HOST, 'n'), pacer.take(HOST, 'n')])
  t.pass('a reset already past: not spaced')
  await pacer.answered(HOST, 'n', null, { operating: 95 })
  await pacer.answered(HOST, 'n', null, { operating: 10, operating_reset_at: reset(1000) })
  await Promise.all([pacer.take(HOST, 'n'), pacer.take(HOST, 'n')])
  t.pass('half a time, or a low one for a method never spaced: nothing')
})

t.test('QUERY_LIMIT_EXCEEDED: the bucket is full, here and in the store; slots taken and not used are dropped', async (t) => {
  const { clock, start, pacer, inner, seen } = paced({ rates: { rate: { drainPerSecond: 2, threshold: 50 }, portals: {} } })
  await pacer.take(HOST, 'm')
  await pacer.answered(HOST, 'm', new BitrixError('m', 'QUERY_LIMIT_EXCEEDED', 503, ''), undefined)
  t.same(seen.limited, ['QUERY_LIMIT_EXCEEDED'])
  t.match(await inner.take(HOST, 0, { drainPerSecond: 2, threshold: 50 }), { level: 50 }, "the store's bucket is full")
  t.same(pacer.levels(), [{ portal: HOST, level: 50, threshold: 50, waiting: 0 }])
  const again = start('m')
  await settle()
  t.equal(again.state(), 'waiting')
  clock.advance(1500)
  await settle()
  t.equal(again.state(), 'done', 'sent once the margin and a slot drained')
  await pacer.answered(HOST, 'm', new BitrixError('m', 'HTTP_429', 429, ''), undefined)
  t.same(seen.limited, ['QUERY_LIMIT_EXCEEDED', 'HTTP_429'], 'any 429 is a refusal for the bucket')
})

t.test("while the store's buckets fail, this process paces alone, said once; said again once they are back", async (t) => {
  const clock = new ManualClock()
  let failing = true
  const inner = new ProcessRestBuckets(() => clock.now())
  const buckets: RestBuckets = {
    take: async (portal, want, rate) => (failing ? Promise.reject(new Error('PostgreSQL is down')) : inner.take(portal, want, rate)),
    fill: async () => Promise.reject(new Error('PostgreSQL is down')),
  }
  const logs: string[] = []
  const logger = { warn: (_: unknown, message: string) => void logs.push(`warn ${message}`), info: (message: string) => void logs.push(`info ${message}`) }
  const pacer = new Pacer({ buckets: () => buckets, rates: { rate: SMALL, portals: {} }, clock, logger: logger as unknown as PacerOptions['logger'] })
  await pacer.take(HOST, 'm')
  await pacer.take(HOST, 'm')
  const third = pacer.take(HOST, 'm')
  await settle()
  await pacer.answered(HOST, 'm', new BitrixError('m', 'QUERY_LIMIT_EXCEEDED', 503, ''), undefined)
  clock.advance(2000)
  await settle()
  clock.advance(1000)
  await third
  t.equal(logs.length, 1)
  t.match(logs[0], /^warn the store's REST buckets cannot be used: this process paces its calls alone meanwhile/)
  failing = false
  await pacer.take(HOST, 'm')
  await pacer.take(HOST, 'n')
  t.equal(logs.length, 2)
  t.match(logs[1], /^info the store's REST buckets are back/)
})

t.test('per-portal rates; without buckets the process counts alone; the busiest portals first, drained ones forgotten', async (t) => {
  const clock = new ManualClock()
  const pacer = new Pacer({ clock, rates: { rate: SMALL, portals: { 'big.bitrix24.com': { drainPerSecond: 5, threshold: 250 } } } })
  const big = await Promise.all(Array.from({ length: 10 }, () => pacer.take('big.bitrix24.com', 'm')))
  t.equal(big.length, 10, 'ten at once on the big plan')
  await pacer.take('small.bitrix24.com', 'm')
  const waiting = [pacer.take('tiny.bitrix24.com', 'm'), pacer.take('tiny.bitrix24.com', 'm'), pacer.take('tiny.bitrix24.com', 'm')]
  await settle()
  t.same(pacer.levels(), [
    { portal: 'tiny.bitrix24.com', level: 2, threshold: 4, waiting: 1 },
    { portal: 'big.bitrix24.com', level: 10, threshold: 250, waiting: 0 },
    { portal: 'small.bitrix24.com', level: 1, threshold: 4, waiting: 0 },
  ])
  t.same(pacer.levels(1).map((level) => level.portal), ['tiny.bitrix24.com'])
  clock.advance(1000)
  await Promise.all(waiting)
  clock.advance(1400)
  t.same(pacer.levels(), [{ portal: 'tiny.bitrix24.com', level: 0.6, threshold: 4, waiting: 0 }], 'a level is rounded to a tenth; the drained portals are forgotten')
  clock.advance(10_000)
  t.same(pacer.levels(), [])
  const defaults = new Pacer()
  await defaults.take(HOST, 'm')
  t.ok(defaults.deadline() >= Date.now() + PACER_DEFAULTS.maxWaitMs - 1000, 'the system clock, 15 min at most')
})

t.test('each request is counted by its outcome', async (t) => {
  const { pacer, seen } = paced()
  await pacer.answered(HOST, 'a', null, undefined)
  await pacer.answered(HOST, 'b', new BitrixError('b', 'BOT_NOT_FOUND', 400, ''), undefined)
  await pacer.answered(HOST, 'c', new BitrixError('c', 'TIMEOUT', null, ''), undefined)
  await pacer.answered(HOST, 'd', new BitrixError('d', 'SENDING_FAILED', 200, ''), undefined)
  t.same(seen.called, ['a ok', 'b fatal', 'c transient', 'd error'])
  t.same(seen.limited, [])
})

t.test('once a hold ends, one call probes it and the others wait for its answer', async (t) => {
  const { clock, pacer, start } = paced({ holdBaseMs: 1000, rates: { rate: { drainPerSecond: 100, threshold: 1000 }, portals: {} } })
  const limited = () => pacer.answered(HOST, 'm', new BitrixError('m', 'OPERATION_TIME_LIMIT', 429, ''), undefined)
  const advance = async (ms: number) => {
    clock.advance(ms)
    await settle()
    await settle()
  }
  await limited()
  const calls = [start('m'), start('m'), start('m')]
  await advance(1000)
  t.same(calls.map((call) => call.state()), ['done', 'waiting', 'waiting'], 'the hold over: the first goes alone')
  await limited()
  await advance(1000)
  t.same(calls.map((call) => call.state()), ['done', 'waiting', 'waiting'], 'held again (2 s now): the others still wait')
  await advance(1000)
  t.same(calls.map((call) => call.state()), ['done', 'done', 'waiting'], 'the second probes')
  await pacer.answered(HOST, 'm', null, undefined)
  await advance(250)
  t.same(calls.map((call) => call.state()), ['done', 'done', 'done'], 'answered: the rest go')

  // A probe that never answers (its call abandoned before it was sent) holds the others 30 s at most.
  await limited()
  const later = [start('m'), start('m')]
  await advance(2000)
  t.same(later.map((call) => call.state()), ['done', 'waiting'])
  for (let waited = 0; waited < 30_000; waited += 250) await advance(250)
  t.same(later.map((call) => call.state()), ['done', 'done'])
})

t.test('spaced turns end with the spacing: calls whose turn would come later go at the reset', async (t) => {
  const { clock, start, pacer } = paced({ operatingLimitSeconds: 100, spacingMs: 3000, rates: { rate: { drainPerSecond: 100, threshold: 1000 }, portals: {} } })
  await pacer.answered(HOST, 'm', null, { operating: 90, operating_reset_at: (clock.now() + 5000) / 1000 })
  const calls = [start('m'), start('m'), start('m'), start('m')]
  await settle()
  t.same(calls.map((call) => call.state()), ['done', 'waiting', 'waiting', 'waiting'])
  clock.advance(3000)
  await settle()
  t.same(calls.map((call) => call.state()), ['done', 'done', 'waiting', 'waiting'], 'the second turn')
  clock.advance(2000)
  await settle()
  t.same(calls.map((call) => call.state()), ['done', 'done', 'done', 'done'], 'the reset: no turns past it')
})

t.test('a probe of a hold that also waits its spaced turn goes at its turn, and the others after its answer', async (t) => {
  const { clock, start, pacer } = paced({ operatingLimitSeconds: 100, spacingMs: 3000, holdBaseMs: 1000, rates: { rate: { drainPerSecond: 100, threshold: 1000 }, portals: {} } })
  const advance = async (ms: number) => {
    clock.advance(ms)
    await settle()
    await settle()
  }
  await pacer.answered(HOST, 'm', null, { operating: 90, operating_reset_at: (clock.now() + 60_000) / 1000 })
  await pacer.take(HOST, 'm') // the next turn is 3 s away
  await pacer.answered(HOST, 'm', new BitrixError('m', 'OPERATION_TIME_LIMIT', 429, ''), undefined)
  const calls = [start('m'), start('m')]
  await advance(1000)
  t.same(calls.map((call) => call.state()), ['waiting', 'waiting'], 'the hold over, the turn not yet')
  await advance(2000)
  t.same(calls.map((call) => call.state()), ['done', 'waiting'], 'the probe goes at its turn')
  await pacer.answered(HOST, 'm', null, undefined)
  await advance(250)
  t.same(calls.map((call) => call.state()), ['done', 'waiting'], 'answered: the next waits its own turn')
  await advance(2750)
  t.same(calls.map((call) => call.state()), ['done', 'done'])
})

t.test("a store whose buckets cannot even be reached (the getter throws) is a failing store: the calls go, paced here", async (t) => {
  const clock = new ManualClock()
  const logs: string[] = []
  const logger = { warn: (_: unknown, message: string) => void logs.push(message), info: () => undefined }
  const buckets = () => {
    throw new Error('the store is reopening')
  }
  const pacer = new Pacer({ buckets, rates: { rate: SMALL, portals: {} }, clock, logger: logger as unknown as PacerOptions['logger'] })
  await Promise.all([pacer.take(HOST, 'm'), pacer.take(HOST, 'm')])
  t.match(logs, [/cannot be used/])
})
