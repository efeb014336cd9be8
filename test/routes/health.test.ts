import t from 'tap'
import { APP_TOKEN, readFixture, startTestApp } from '../helpers.ts'

t.test('health reports versions, uptime, counts and the last event; it is always 200', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const before = (await (await fetch(`${server.url}/health`)).json()) as Record<string, unknown>
  t.match(before, { status: 'ok', version: /^\d+\.\d+\.\d+/, node: process.version, uptimeSeconds: Number, ready: true, reason: null, events: { accepted: 0, rejected: 0, failed: 0, inFlight: 0 }, lastEventAt: null })
  t.equal((await server.post(readFixture('bitrix/im_v2_message_add.body.txt').replace('jvh9y1ulvt2m6k5or90v9mg8nn32ozas', APP_TOKEN))).status, 200)
  t.match((await (await fetch(`${server.url}/health`)).json()) as object, { events: { accepted: 1 } })
  server.setReadiness({ ready: false, reason: 'closing' })
  const response = await fetch(`${server.url}/health`)
  t.equal(response.status, 200)
  t.match(await response.json(), { status: 'degraded', ready: false, reason: 'closing', lastEventAt: String })
})

t.test('ready is 200 when events can be accepted, 503 with the reason otherwise', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const ready = await fetch(`${server.url}/ready`)
  t.equal(ready.status, 200)
  t.same(await ready.json(), { ready: true, reason: null })
  server.setReadiness({ ready: false, reason: 'starting' })
  const starting = await fetch(`${server.url}/ready`)
  t.equal(starting.status, 503)
  t.same(await starting.json(), { ready: false, reason: 'starting' })
})
