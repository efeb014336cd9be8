import t from 'tap'
import { createReceiverMetrics } from '../../src/metrics/receiver-metrics.ts'
import type { Settlement } from '../../src/worker/worker.ts'
import { newRecord } from '../fakes/new-record.ts'

t.test("/health's counters are the metrics' own: what /metrics counts, summed over types and doors", async (t) => {
  let inFlight = 0
  const metrics = createReceiverMetrics({ stats: () => null, poller: () => null, inFlight: () => inFlight })
  t.same(await metrics.events(), { accepted: 0, duplicates: 0, rejected: 0, failed: 0, claimsLost: 0, inFlight: 0 })
  t.equal(metrics.lastEventAt(), null)
  const before = new Date().toISOString()
  metrics.ingest.stored('webhook')
  metrics.ingest.stored('poll')
  metrics.door.refused(401)
  const after = new Date().toISOString()
  const record = (type: string) => ({ ...newRecord(1, 'x', { type }), id: 1, attempts: 0, receivedAt: Date.now() })
  const settled: Array<[string, Settlement, string?]> = [
    ['A', 'handled'],
    ['A', 'skipped', 'duplicate'],
    ['B', 'skipped', 'duplicate'],
    ['B', 'skipped', 'forgotten'],
    ['A', 'rejected'],
    ['A', 'retried'],
    ['B', 'retried'],
    ['B', 'dead-lettered'],
    ['A', 'postponed'],
  ]
  for (const [type, settlement, why] of settled) metrics.worker.settled(record(type), settlement, 1, why)
  inFlight = 2
  t.same(await metrics.events(), { accepted: 2, duplicates: 2, rejected: 1, failed: 3, claimsLost: 0, inFlight: 2 }, 'a refusal is not accepted; a forgotten or postponed event is none of these')
  const last = metrics.lastEventAt() as string
  t.ok(last >= before && last <= after, `lastEventAt ${last}`)
  const text = await metrics.registry.metrics()
  t.match(text, 'b24_events_duplicates_total{type="A"} 1')
  t.match(text, 'b24_events_duplicates_total{type="B"} 1')
})
