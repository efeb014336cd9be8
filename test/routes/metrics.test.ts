import t from 'tap'
import { Registry } from 'prom-client'
import { FakeBitrix } from '../fakes/fake-portal.ts'
import { APP_TOKEN, eventually, readFixture, startTestApp } from '../helpers.ts'

const body = readFixture('bitrix/im_v2_message_add.body.txt').replace('jvh9y1ulvt2m6k5or90v9mg8nn32ozas', APP_TOKEN)

t.test('GET /metrics answers the Prometheus text format: a refused post, then an event handled', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const scrape = async () => {
    const response = await server.inject({ method: 'GET', url: '/metrics' })
    t.equal(response.status, 200)
    t.equal(response.headers['content-type'], Registry.PROMETHEUS_CONTENT_TYPE, "prom-client's content type")
    return response.text()
  }
  const before = await scrape()
  t.match(before, '# TYPE b24_events_accepted_total counter')
  t.match(before, 'b24_events_accepted_total{door="webhook",status="401"} 0', 'the door statuses are there from the start')
  t.match(before, 'b24_inbox_depth 0')
  t.match(before, 'b24_store_up 1')
  t.notMatch(before, 'b24_events_handled_total{', 'no event type seen yet')
  t.notMatch(before, 'b24_poller_state{', 'no poller, no poller series')

  t.equal((await server.post(body.replaceAll(APP_TOKEN, 'wrong'))).status, 401)
  t.match(await scrape(), 'b24_events_accepted_total{door="webhook",status="401"} 1')

  t.equal((await server.post(body)).status, 200)
  await eventually(() => server.handled.length === 1)
  await eventually(async () => (await scrape()).includes('b24_events_handled_total{type="ONIMV2MESSAGEADD"} 1'))
  const after = await scrape()
  t.match(after, 'b24_events_accepted_total{door="webhook",status="200"} 1')
  t.match(after, 'b24_events_accepted_total{door="webhook",status="401"} 1', 'counted once')
  t.match(after, 'b24_handler_duration_seconds_count{type="ONIMV2MESSAGEADD"} 1')
  t.match(after, 'b24_post_to_handler_seconds_count{door="webhook"} 1')
  t.match(after, 'b24_events_retried_total{type="ONIMV2MESSAGEADD"} 0')
  t.match(after, 'b24_inbox_depth 0')
  t.match(after, 'b24_dead_letters 0')
  t.match(after, 'b24_worker_in_flight 0')
})

t.test('a polled event counts as door="poll", and the poller reports its state and lag', async (t) => {
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  fake.subscribe()
  const server = await startTestApp({ poll: { mode: 'im', busyMs: 10, idleMs: 20 }, rest: { url: fake.webhookUrl } })
  t.teardown(server.close)
  const data = (JSON.parse(readFixture('bitrix/im_v2_message_add.payload.json')) as { data: Record<string, unknown> }).data
  fake.pushUserEvent('ONIMV2MESSAGEADD', data)
  await eventually(() => server.handled.length === 1)
  const text = async () => (await server.inject({ method: 'GET', url: '/metrics' })).text()
  await eventually(async () => (await text()).includes('b24_events_handled_total{type="ONIMV2MESSAGEADD"} 1'))
  const metrics = await text()
  t.match(metrics, 'b24_events_accepted_total{door="poll",status="200"} 1')
  t.match(metrics, 'b24_events_accepted_total{door="webhook",status="200"} 0')
  t.match(metrics, 'b24_post_to_handler_seconds_count{door="poll"} 1')
  t.match(metrics, 'b24_poller_state{mode="im",state="polling"} 1')
  t.match(metrics, 'b24_poller_state{mode="im",state="failed"} 0')
  t.match(metrics, /b24_poller_lag_seconds\{mode="im"\} \d/)
})

t.test('a handler that keeps failing shows as retried, then dead-lettered; the dead letter count follows', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  server.receiver.on('ONIMV2MESSAGEADD', () => {
    throw new Error('down')
  })
  t.equal((await server.post(body)).status, 200)
  const text = async () => (await server.inject({ method: 'GET', url: '/metrics' })).text()
  await eventually(async () => (await text()).includes('b24_events_dead_lettered_total{type="ONIMV2MESSAGEADD"} 1'))
  const metrics = await text()
  t.match(metrics, 'b24_events_retried_total{type="ONIMV2MESSAGEADD"} 2', 'maxAttempts 3: two retries')
  t.match(metrics, 'b24_events_handled_total{type="ONIMV2MESSAGEADD"} 0')
  t.match(metrics, 'b24_handler_duration_seconds_count{type="ONIMV2MESSAGEADD"} 3', 'every attempt ran its handlers')
  t.match(metrics, 'b24_post_to_handler_seconds_count{door="webhook"} 1', 'the first attempt only')
  t.match(metrics, 'b24_dead_letters 1')
  t.match(metrics, 'b24_inbox_depth 0')
})
