import t from 'tap'
import { Registry } from 'prom-client'
import type { StoreStats } from '../../schemas/health.ts'
import { storeMetrics } from '../../src/metrics/store-metrics.ts'

const NONE_NEWER = { records: 0, candidates: 0, portals: 0, values: 0 }
const FIGURES: StoreStats = { depth: 7, oldestPendingAgeMs: 1500, retrying: 2, deadLetters: 3, newerFormat: NONE_NEWER }

t.test("reads the store's figures once per scrape", async (t) => {
  const registry = new Registry()
  let calls = 0
  let figures: StoreStats = FIGURES
  storeMetrics(registry, async () => {
    calls++
    return figures
  })
  const text = await registry.metrics()
  t.equal(calls, 1, 'one call for all the gauges')
  t.match(text, 'b24_store_up 1')
  t.match(text, 'b24_inbox_depth 7')
  t.match(text, 'b24_inbox_oldest_pending_age_seconds 1.5')
  t.match(text, 'b24_inbox_retrying 2')
  t.match(text, 'b24_dead_letters 3')
  figures = { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0, newerFormat: NONE_NEWER }
  const empty = await registry.metrics()
  t.equal(calls, 2, 'read again on the next scrape')
  t.match(empty, 'b24_inbox_depth 0')
  t.match(empty, 'b24_inbox_oldest_pending_age_seconds 0', 'nothing pending: no age')
})

t.test('no store, a failing store, a store that does not answer in time: figures unknown, b24_store_up 0', async (t) => {
  const unknown = async (stats: () => Promise<StoreStats> | null) => {
    const registry = new Registry()
    storeMetrics(registry, stats, 20)
    const text = await registry.metrics()
    t.match(text, 'b24_store_up 0')
    for (const name of ['b24_inbox_depth', 'b24_inbox_oldest_pending_age_seconds', 'b24_inbox_retrying', 'b24_dead_letters']) t.match(text, `\n${name} Nan\n`, `${name} unknown`)
  }
  await unknown(() => null)
  await unknown(() => Promise.reject(new Error('gone')))
  await unknown(() => {
    throw new Error('closed')
  })
  await unknown(() => new Promise<StoreStats>(() => undefined))
})
