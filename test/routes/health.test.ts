import Fastify from 'fastify'
import t from 'tap'
import { healthRoute } from '../../routes/health.ts'
import { createReceiver } from '../../src/receiver/receiver.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { APP_TOKEN, readFixture, SECRET_KEY, startTestApp } from '../helpers.ts'

t.test('health reports versions, uptime, counts, the store and the last event; it is always 200', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const before = await (await server.inject({ method: 'GET', url: '/health' })).json()
  t.match(before, { status: 'ok', version: /^\d+\.\d+\.\d+/, node: process.version, uptimeSeconds: Number, ready: true, reason: null, events: { accepted: 0, duplicates: 0, rejected: 0, failed: 0, inFlight: 0 }, lastEventAt: null, inbox: { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0 }, poller: null })
  t.equal((await server.post(readFixture('bitrix/im_v2_message_add.body.txt').replace('jvh9y1ulvt2m6k5or90v9mg8nn32ozas', APP_TOKEN))).status, 200)
  t.match(await (await server.inject({ method: 'GET', url: '/health' })).json(), { events: { accepted: 1 }, lastEventAt: String })
  await server.receiver.beginClose()
  const response = await server.inject({ method: 'GET', url: '/health' })
  t.equal(response.status, 200)
  t.match(await response.json(), { status: 'degraded', ready: false, reason: 'closing' })
})

t.test('health leaves the store figures out when the store cannot answer', async (t) => {
  const store = new MemoryStore()
  store.stats = async () => Promise.reject(new Error('gone'))
  const server = await startTestApp({ store })
  t.teardown(server.close)
  t.match(await (await server.inject({ method: 'GET', url: '/health' })).json(), { inbox: null })
})

t.test('ready is 200 once started, 503 with the reason while starting, closing, or when the store cannot be written', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const ready = await server.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.status, 200)
  t.same(await ready.json(), { ready: true, reason: null })
  ;(server.store as MemoryStore).failing = true
  const failing = await server.inject({ method: 'GET', url: '/ready' })
  t.equal(failing.status, 503)
  t.same(await failing.json(), { ready: false, reason: 'the store cannot be written' })

  // Mounted without the plugin, the receiver is never started.
  const app = Fastify()
  await app.register(healthRoute, { receiver: createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), secretKey: SECRET_KEY }) })
  t.teardown(() => app.close())
  const starting = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(starting.statusCode, 503)
  t.same(starting.json(), { ready: false, reason: 'starting' })
})
