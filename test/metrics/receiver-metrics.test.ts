import t from 'tap'
import { register } from 'prom-client'
import { createReceiverMetrics } from '../../src/metrics/receiver-metrics.ts'
import { newRecord } from '../fakes/new-record.ts'

const sources = { stats: () => null, poller: () => null, inFlight: () => 0 }

t.test("each receiver's metrics in a registry of its own, never the global one", async (t) => {
  const one = createReceiverMetrics(sources)
  const two = createReceiverMetrics(sources)
  t.not(one.registry, two.registry)
  one.door.refused(401)
  one.ingest.stored('webhook')
  one.worker.settled({ ...newRecord(1, 'x', { type: 'A' }), id: 1, attempts: 0, receivedAt: Date.now() }, 'handled', 1)
  t.match(await one.registry.metrics(), 'b24_events_accepted_total{door="webhook",status="401"} 1')
  t.match(await one.registry.metrics(), 'b24_events_handled_total{type="A"} 1')
  t.match(await two.registry.metrics(), 'b24_events_accepted_total{door="webhook",status="401"} 0')
  t.equal(register.getMetricsAsArray().length, 0, 'nothing in the global registry')
  const names = one.registry.getMetricsAsArray().map((metric) => metric.name)
  t.ok(names.every((name) => name.startsWith('b24_')), names.join(' '))
  t.notOk(names.some((name) => name.startsWith('process_') || name.startsWith('nodejs_')), 'no default process metrics')
})

t.test('the REST calls are counted in the same registry', async (t) => {
  const metrics = createReceiverMetrics(sources)
  metrics.rest.called('imbot.v2.Chat.Message.send', 'ok')
  t.match(await metrics.registry.metrics(), 'b24_rest_calls_total{family="imbot.v2.Chat",outcome="ok"} 1')
})
