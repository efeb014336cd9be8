import { Registry } from 'prom-client'
import t from 'tap'
import { MAX_FAMILY_LABELS, methodFamily, restMetrics } from '../../src/metrics/rest-metrics.ts'

t.test('a method family: three words of a versioned method, else two', async (t) => {
  t.equal(methodFamily('imbot.v2.Chat.Message.send'), 'imbot.v2.Chat')
  t.equal(methodFamily('im.v2.Event.get'), 'im.v2.Event')
  t.equal(methodFamily('crm.deal.add'), 'crm.deal')
  t.equal(methodFamily('batch'), 'batch')
  t.equal(methodFamily('app.info'), 'app.info')
})

t.test('calls by family and outcome, limited answers by code, waits by reason', async (t) => {
  const registry = new Registry()
  const observe = restMetrics(registry)
  observe.called('imbot.v2.Chat.Message.send', 'ok')
  observe.called('imbot.v2.Chat.Message.update', 'ok')
  observe.called('imbot.v2.Chat.Message.send', 'limited')
  observe.called('crm.deal.add', 'fatal')
  observe.limited('QUERY_LIMIT_EXCEEDED')
  observe.limited('QUERY_LIMIT_EXCEEDED')
  observe.limited('OPERATION_TIME_LIMIT')
  observe.waited('bucket', 0.3)
  observe.waited('held', 20)
  const text = await registry.metrics()
  t.match(text, 'b24_rest_calls_total{family="imbot.v2.Chat",outcome="ok"} 2')
  t.match(text, 'b24_rest_calls_total{family="imbot.v2.Chat",outcome="limited"} 1')
  t.match(text, 'b24_rest_calls_total{family="crm.deal",outcome="fatal"} 1')
  t.match(text, 'b24_rest_limited_total{code="QUERY_LIMIT_EXCEEDED"} 2')
  t.match(text, 'b24_rest_limited_total{code="OPERATION_TIME_LIMIT"} 1')
  t.match(text, 'b24_rest_wait_seconds_bucket{le="0.5",reason="bucket"} 1')
  t.match(text, 'b24_rest_wait_seconds_sum{reason="held"} 20')
})

t.test('families past the cap share one series', async (t) => {
  const registry = new Registry()
  const observe = restMetrics(registry)
  for (let i = 0; i <= MAX_FAMILY_LABELS; i++) observe.called(`x${i}.method`, 'ok')
  const text = await registry.metrics()
  t.match(text, 'b24_rest_calls_total{family="x99.method",outcome="ok"} 1')
  t.match(text, 'b24_rest_calls_total{family="other",outcome="ok"} 1')
})
