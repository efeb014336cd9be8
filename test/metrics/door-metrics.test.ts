import t from 'tap'
import { Registry } from 'prom-client'
import { doorMetrics } from '../../src/metrics/door-metrics.ts'

t.test('counts stored events by door as 200 and refusals by status, each status its own series', async (t) => {
  const registry = new Registry()
  const { door, ingest } = doorMetrics(registry)
  const text = await registry.metrics()
  for (const status of [200, 400, 401, 413, 415, 503]) t.match(text, `b24_events_accepted_total{door="webhook",status="${status}"} 0`)
  t.match(text, 'b24_events_accepted_total{door="poll",status="200"} 0')
  ingest.stored('webhook')
  ingest.stored('poll')
  ingest.stored('poll')
  door.refused(401)
  door.refused(500)
  door.refused(500)
  const after = await registry.metrics()
  t.match(after, 'b24_events_accepted_total{door="webhook",status="200"} 1')
  t.match(after, 'b24_events_accepted_total{door="poll",status="200"} 2')
  t.match(after, 'b24_events_accepted_total{door="webhook",status="401"} 1')
  t.match(after, 'b24_events_accepted_total{door="webhook",status="500"} 2', 'a status not foreseen gets a series of its own')
})
