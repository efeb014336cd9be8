import t from 'tap'
import type { Lifecycle } from '../../src/receiver/lifecycle.ts'
import { receiverHealth } from '../../src/receiver/receiver-health.ts'
import type { Running } from '../../src/receiver/run.ts'
import { version } from '../../src/version.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

type Seen = Pick<Lifecycle, 'phase' | 'store' | 'running' | 'startedAt'>

const EVENTS = { accepted: 3, duplicates: 1, rejected: 0, failed: 2, claimsLost: 0, inFlight: 1 }
const metrics = { events: async () => EVENTS, lastEventAt: () => '2026-01-01T00:00:00.000Z' }
const running = (parts: Partial<Record<'poller' | 'application', unknown>> = {}) => ({ ingest: {}, worker: {}, poller: null, application: null, ...parts }) as unknown as Running

t.test('ready: starting until the parts run, closing after; the store, a poller or the application stopped for good say why not', async (t) => {
  const store = new MemoryStore()
  const seen: Seen = { phase: 'idle', store: null, running: null, startedAt: Date.now() }
  const { ready } = receiverHealth(seen, metrics, 'host:1:abc')
  t.same(ready(), { ready: false, reason: 'starting' })
  Object.assign(seen, { phase: 'running' })
  t.same(ready(), { ready: false, reason: 'starting' }, 'no store yet')
  Object.assign(seen, { store })
  t.same(ready(), { ready: false, reason: 'starting' }, 'not unsealed yet')
  Object.assign(seen, { running: running() })
  t.same(ready(), { ready: true, reason: null })
  Object.assign(seen, { running: running({ application: { fatal: 'the OAuth server refuses B24_CLIENT_ID' } }) })
  t.same(ready(), { ready: false, reason: 'the OAuth server refuses B24_CLIENT_ID' })
  Object.assign(seen, { running: running({ poller: { fatal: 'the webhook is gone' }, application: { fatal: 'refused' } }) })
  t.same(ready(), { ready: false, reason: 'the webhook is gone' }, "the poller's first")
  store.failing = true
  t.same(ready(), { ready: false, reason: 'the store cannot be written' }, "the store's before all")
  Object.assign(seen, { phase: 'closing' })
  t.same(ready(), { ready: false, reason: 'closing' })
})

t.test("health: the figures of the metrics, the store's, the poller's and the application's; none of a part that is not there", async (t) => {
  const store = new MemoryStore()
  const seen: Seen = { phase: 'running', store, running: null, startedAt: Date.now() - 61_000 }
  const health = receiverHealth(seen, metrics, 'host:1:abc')
  t.same(await health.health(), {
    status: 'degraded',
    version,
    node: process.version,
    replica: 'host:1:abc',
    uptimeSeconds: 61,
    ready: false,
    reason: 'starting',
    events: EVENTS,
    lastEventAt: '2026-01-01T00:00:00.000Z',
    inbox: await store.stats(),
    poller: null,
    app: null,
    rest: { buckets: [] },
  })
  const app = { portals: { active: 1 } }
  Object.assign(seen, { running: running({ poller: { fatal: null, state: () => ({ state: 'polling' }) }, application: { fatal: null, health: async () => app } }) })
  t.match(await health.health(), { status: 'ok', ready: true, poller: { state: 'polling' }, app })
  store.stats = async () => Promise.reject(new Error('gone'))
  Object.assign(seen, { running: running({ application: { fatal: null, health: async () => Promise.reject(new Error('gone')) } }) })
  t.match(await health.health(), { inbox: null, app: null }, 'what cannot be read is left out')
  Object.assign(seen, { store: null, running: null, phase: 'idle' })
  t.match(await health.health(), { inbox: null, poller: null, app: null })
})

t.test("health: the busiest portals' buckets, as the pacer sees them", async (t) => {
  const asked: number[] = []
  const buckets = [{ portal: 'p.bitrix24.com', level: 47.5, threshold: 50, waiting: 3 }]
  const pacer = {
    levels(count: number) {
      asked.push(count)
      return buckets
    },
  }
  const health = receiverHealth({ phase: 'idle', store: null, running: null, startedAt: Date.now() }, metrics, 'host:1:abc', pacer)
  t.same((await health.health()).rest, { buckets })
  t.same(asked, [5], 'a few at most')
})
