import t from 'tap'
import { pino } from 'pino'
import { ConfigError } from '../../src/errors.ts'
import { Lifecycle, type LifecycleParts } from '../../src/receiver/lifecycle.ts'
import type { Running } from '../../src/receiver/run.ts'
import { createSealer, type Sealer } from '../../src/seal/sealer.ts'
import type { Store } from '../../src/store/store.ts'
import { StoreUnavailableError } from '../../src/store/store-unavailable-error.ts'
import { ManualClock } from '../fakes/manual-clock.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { captureLogs, eventually } from '../helpers.ts'

const SEALER = createSealer(Buffer.alloc(32, 7))

/** A lifecycle over a memory store whose parts are the test's: what ran, and how the worker stops. */
function setup(parts: Partial<LifecycleParts> = {}, drained = true) {
  const store = new MemoryStore()
  const clock = new ManualClock()
  const logs = captureLogs()
  const ran: Array<{ store: Store; sealer: Sealer }> = []
  const stops: string[] = []
  const running = (): Running =>
    ({
      ingest: { accept: async () => {} },
      worker: { stop: async (ms: number) => (stops.push(`worker ${ms}`), drained) },
      poller: { stop: async () => void stops.push('poller') },
      application: { stop: () => void stops.push('application') },
    }) as unknown as Running
  const lifecycle = new Lifecycle({
    logger: pino({ level: 'info' }, logs.stream),
    clock,
    shutdownTimeoutMs: 250,
    open: async () => store,
    unseal: async () => SEALER,
    run: (opened, sealer) => (ran.push({ store: opened, sealer }), running()),
    ...parts,
  })
  return { lifecycle, store, clock, logs, ran, stops }
}

t.test('idle, then running once the store is open and unsealed, then closing; each step once', async (t) => {
  const { lifecycle, store, ran, stops, logs } = setup()
  t.equal(lifecycle.phase, 'idle')
  t.equal(lifecycle.store, null)
  t.throws(() => lifecycle.started(), new StoreUnavailableError('the receiver is not started'))
  const before = lifecycle.startedAt
  const starting = lifecycle.start()
  t.equal(lifecycle.start(), starting, 'started once')
  t.equal(lifecycle.phase, 'running')
  t.ok(lifecycle.startedAt >= before)
  t.throws(() => lifecycle.started(), new StoreUnavailableError('the receiver is starting'))
  await starting
  t.equal(lifecycle.store, store)
  t.same(ran, [{ store, sealer: SEALER }], 'run with the open store and its sealer')
  t.equal(lifecycle.started(), lifecycle.running)
  await lifecycle.beginClose()
  t.equal(lifecycle.phase, 'closing')
  await lifecycle.beginClose()
  t.same(stops, ['poller'], 'the poller stops first, once')
  const closing = lifecycle.close()
  t.equal(lifecycle.close(), closing, 'closed once')
  await closing
  t.same(stops, ['poller', 'application', 'worker 250'], 'then the application, then the worker with the shutdown time')
  t.ok(store.closed, 'the store last')
  t.match(logs.parsed().at(-1), { msg: 'closed' })
})

t.test("started() tells the store's reason while it cannot be used", async (t) => {
  const store = new MemoryStore()
  store.failing = true
  const { lifecycle } = setup({ open: async () => store, unseal: async () => Promise.reject(new Error('not yet')) })
  await lifecycle.start()
  t.throws(() => lifecycle.started(), new StoreUnavailableError('the store cannot be written'))
  await lifecycle.close()
})

t.test('a ConfigError from opening or unsealing stops the start; unsealing closes the store then', async (t) => {
  const refused = setup({ open: async () => Promise.reject(new ConfigError('app: this store has no `portals`')) })
  await t.rejects(refused.lifecycle.start(), new ConfigError('app: this store has no `portals`'))
  await refused.lifecycle.close()
  t.same(refused.ran, [])
  t.notOk(refused.store.closed, 'never opened here: the opener closes what it refuses')

  const wrongKey = setup({ unseal: async () => Promise.reject(new ConfigError('secretKey: it cannot open what is stored')) })
  await t.rejects(wrongKey.lifecycle.start(), ConfigError)
  t.ok(wrongKey.store.closed)
  await wrongKey.lifecycle.close()
  t.same(wrongKey.ran, [])
  t.same(wrongKey.stops, [], 'nothing ran, nothing to stop')
})

t.test('a key that cannot be read yet is tried again on the clock, every 5 s, until it can', async (t) => {
  let tries = 0
  const { lifecycle, clock, ran } = setup({ unseal: async () => (++tries < 3 ? Promise.reject(new Error('key file not readable yet')) : SEALER) })
  await lifecycle.start()
  t.equal(lifecycle.running, null)
  t.equal(clock.timers, 1)
  clock.advance(4999)
  t.equal(tries, 1, 'not before 5 s')
  clock.advance(1)
  await eventually(() => tries === 2 && clock.timers === 1)
  clock.advance(5000)
  await eventually(() => ran.length === 1)
  t.equal(clock.timers, 0)
  await lifecycle.close()
})

t.test('a retry that fails with a ConfigError is logged, and starts nothing', async (t) => {
  let tries = 0
  const { lifecycle, clock, ran, logs, store } = setup({ unseal: async () => Promise.reject(++tries === 1 ? new Error('not yet') : new ConfigError('secretKey: wrong')) })
  await lifecycle.start()
  clock.advance(5000)
  await eventually(() => logs.parsed().some((line) => line.msg === 'cannot start'))
  t.ok(store.closed)
  t.same(ran, [])
  t.equal(clock.timers, 0)
})

t.test('closing while a retry waits cancels it; the store is closed, nothing else ran', async (t) => {
  const { lifecycle, clock, store, stops } = setup({ unseal: async () => Promise.reject(new Error('not yet')) })
  await lifecycle.start()
  await lifecycle.close()
  t.equal(clock.timers, 0)
  t.ok(store.closed)
  t.same(stops, [])
})

t.test('handlers still running past the shutdown time: closed all the same, with a warning', async (t) => {
  const { lifecycle, logs } = setup({}, false)
  await lifecycle.start()
  await lifecycle.close()
  t.match(logs.parsed().at(-1), { level: 40, timeoutMs: 250, msg: /still running/ })
})

t.test('closing an idle lifecycle does nothing', async (t) => {
  const { lifecycle, ran, store } = setup()
  await lifecycle.close()
  t.equal(lifecycle.phase, 'idle')
  t.same(ran, [])
  t.notOk(store.closed)
})
