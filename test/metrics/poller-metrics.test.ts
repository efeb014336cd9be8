import t from 'tap'
import { Registry } from 'prom-client'
import { literalsOf, pollerMetrics, type PollerView } from '../../src/metrics/poller-metrics.ts'

t.test('one series per state the schema knows, 1 for the current one; the lag since the last read', async (t) => {
  const registry = new Registry()
  let state: PollerView | null = null
  pollerMetrics(registry, () => state)
  t.notMatch(await registry.metrics(), 'b24_poller_state{', 'no poller, no series')
  state = { mode: 'imbot', state: 'starting', lastPollAt: null }
  const starting = await registry.metrics()
  t.match(starting, 'b24_poller_state{mode="imbot",state="starting"} 1')
  for (const other of ['polling', 'retrying', 'stopped', 'failed']) t.match(starting, `b24_poller_state{mode="imbot",state="${other}"} 0`)
  t.notMatch(starting, 'b24_poller_lag_seconds{', 'no read yet, no lag')
  state = { mode: 'imbot', state: 'polling', lastPollAt: new Date(Date.now() - 3000).toISOString() }
  const polling = await registry.metrics()
  t.match(polling, 'b24_poller_state{mode="imbot",state="polling"} 1')
  t.match(polling, 'b24_poller_state{mode="imbot",state="starting"} 0')
  t.match(polling, /b24_poller_lag_seconds\{mode="imbot"\} 3(\.\d+)?\n/)
  // A state this release's schema does not know yet (the poller may gain one): reported all the same.
  state = { mode: 'im', state: 'standby' as PollerView['state'], lastPollAt: new Date(Date.now() + 5000).toISOString() }
  const standby = await registry.metrics()
  t.match(standby, 'b24_poller_state{mode="im",state="standby"} 1')
  t.match(standby, 'b24_poller_state{mode="im",state="polling"} 0')
  t.notMatch(standby, 'mode="imbot"', 'the series of a previous scrape are gone')
  t.match(standby, 'b24_poller_lag_seconds{mode="im"} 0\n', 'a clock ahead of ours counts as no lag')
  state = null
  t.notMatch(await registry.metrics(), /b24_poller_\w+\{/, 'no series without the poller')
})

t.test('literalsOf reads the literals of a union, nothing of anything else', async (t) => {
  t.same(literalsOf({ anyOf: [{ const: 'a' }, { const: 1 }, { type: 'string' }, { const: 'b' }] }), ['a', 'b'])
  t.same(literalsOf({ type: 'string' }), [])
})
