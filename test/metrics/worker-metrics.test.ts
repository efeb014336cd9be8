import t from 'tap'
import { Registry } from 'prom-client'
import { MAX_TYPE_LABELS, workerMetrics } from '../../src/metrics/worker-metrics.ts'
import type { StoredRecord } from '../../src/store/store.ts'
import { newRecord } from '../fakes/new-record.ts'

const stored = (type: string, extra: Partial<StoredRecord> = {}): StoredRecord => ({ ...newRecord(1, 'hi', { type }), id: 1, attempts: 0, receivedAt: Date.now(), ...extra })

t.test('counts each settlement by type; handler durations only where handlers ran', async (t) => {
  const registry = new Registry()
  let inFlight = 3
  const observe = workerMetrics(registry, () => inFlight)
  const before = await registry.metrics()
  t.match(before, 'b24_worker_in_flight 3')
  t.notMatch(before, 'b24_events_handled_total{', 'no type seen, no series')
  observe.settled(stored('A'), 'handled', 250)
  observe.settled(stored('A'), 'retried', 1500)
  observe.settled(stored('A'), 'dead-lettered', 20)
  observe.settled(stored('B'), 'skipped', 1, 'duplicate')
  observe.settled(stored('B'), 'rejected', 1)
  observe.settled(stored('C'), 'postponed', 1)
  observe.settled(stored('C'), 'skipped', 1, 'forgotten')
  inFlight = 0
  const text = await registry.metrics()
  t.match(text, 'b24_worker_in_flight 0')
  for (const name of ['handled', 'retried', 'dead_lettered']) t.match(text, `b24_events_${name}_total{type="A"} 1`)
  for (const name of ['duplicates', 'rejected']) t.match(text, `b24_events_${name}_total{type="A"} 0`, 'shown at 0 from the first event of a type')
  for (const name of ['duplicates', 'rejected']) t.match(text, `b24_events_${name}_total{type="B"} 1`)
  t.match(text, 'b24_handler_duration_seconds_count{type="A"} 3')
  t.match(text, 'b24_handler_duration_seconds_sum{type="A"} 1.77')
  t.match(text, 'b24_handler_duration_seconds_bucket{le="0.25",type="A"} 2')
  t.match(text, 'b24_handler_duration_seconds_bucket{le="1",type="A"} 2')
  t.match(text, 'b24_handler_duration_seconds_bucket{le="2.5",type="A"} 3')
  t.notMatch(text, 'b24_handler_duration_seconds_count{type="B"}', 'no handler ran for a duplicate or a reject')
  for (const name of ['deferred', 'forgotten']) t.match(text, `b24_events_${name}_total{type="C"} 1`)
  t.notMatch(text, 'b24_handler_duration_seconds_count{type="C"}', 'nor for an event held back or dropped')
})

t.test('post-to-handler latency: from stored to the first attempt, by door', async (t) => {
  const registry = new Registry()
  const observe = workerMetrics(registry, () => 0)
  observe.attempting(stored('A', { receivedAt: Date.now() - 2000 }))
  observe.attempting(stored('A', { receivedAt: Date.now() - 60_000, attempts: 1 }))
  observe.attempting(stored('A', { source: 'poll', receivedAt: Date.now() + 1000 }))
  const text = await registry.metrics()
  t.match(text, 'b24_post_to_handler_seconds_count{door="webhook"} 1', 'a retry is not counted')
  t.match(text, 'b24_post_to_handler_seconds_bucket{le="1",door="webhook"} 0')
  t.match(text, 'b24_post_to_handler_seconds_bucket{le="2.5",door="webhook"} 1')
  t.match(text, /b24_post_to_handler_seconds_sum\{door="webhook"\} 2(\.\d+)?\n/, '2 s and the few ms since')
  t.match(text, 'b24_post_to_handler_seconds_sum{door="poll"} 0\n', 'a clock ahead of ours counts as no wait')
})

t.test('the types past the cap share type="other"', async (t) => {
  const registry = new Registry()
  const observe = workerMetrics(registry, () => 0)
  for (let i = 0; i <= MAX_TYPE_LABELS; i++) observe.settled(stored(`T${i}`), 'handled', 1)
  observe.settled(stored('ANOTHER'), 'handled', 1)
  const text = await registry.metrics()
  t.match(text, `b24_events_handled_total{type="T${MAX_TYPE_LABELS - 1}"} 1`)
  t.notMatch(text, `type="T${MAX_TYPE_LABELS}"`)
  t.match(text, 'b24_events_handled_total{type="other"} 2')
})
