import Fastify from 'fastify'
import t from 'tap'
import { pino } from 'pino'
import { b24Receiver, type B24ReceiverPluginOptions } from '../src/plugin.ts'
import { createReceiver } from '../src/receiver/receiver.ts'
import { MemoryStore } from './fakes/memory-store.ts'
import { APP_TOKEN, readFixture, SECRET_KEY, startTestApp } from './helpers.ts'

const body = readFixture('bitrix/im_v2_message_add.body.txt').replace('jvh9y1ulvt2m6k5or90v9mg8nn32ozas', APP_TOKEN)

t.test('refusals Fastify makes before the receiver sees the body count as the door answers, once', async (t) => {
  const server = await startTestApp({ bodyLimit: 1024 })
  t.teardown(server.close)
  t.equal((await server.post(body)).status, 413, 'past the body limit: Fastify stops reading')
  t.equal((await server.post('event=X', 'text/plain')).status, 415, "the receiver's own refusal")
  t.equal((await server.post('evnt=X')).status, 400)
  const metrics = await (await server.inject({ method: 'GET', url: '/metrics' })).text()
  t.match(metrics, 'b24_events_accepted_total{door="webhook",status="413"} 1')
  t.match(metrics, 'b24_events_accepted_total{door="webhook",status="415"} 1')
  t.match(metrics, 'b24_events_accepted_total{door="webhook",status="400"} 1')
  t.equal((await server.inject({ method: 'GET', url: '/nowhere' })).status, 404)
  t.match(await server.receiver.metrics(), 'b24_events_accepted_total{door="webhook",status="200"} 0', 'other requests are not counted')
})

t.test("takes the Fastify app's own logger: one log stream for the app and the receiver", async (t) => {
  const lines: Array<Record<string, unknown>> = []
  const app = Fastify({ logger: { level: 'info', stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } } })
  const receiver = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), secretKey: SECRET_KEY, logger: app.log })
  await app.register(b24Receiver, { receiver })
  const response = await app.inject({ method: 'POST', url: '/webhook', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: body })
  t.equal(response.statusCode, 200)
  await app.close()
  t.ok(lines.some((line) => line.msg === 'closed'), "the receiver's lines are in the app's stream")
})

t.test('/metrics follows `health` unless `metrics` says otherwise', async (t) => {
  const routes = async (options: Partial<B24ReceiverPluginOptions>) => {
    const receiver = createReceiver({ tokens: [APP_TOKEN], store: new MemoryStore(), secretKey: SECRET_KEY, logger: pino({ level: 'silent' }) })
    const app = Fastify()
    await app.register(b24Receiver, { receiver, ...options })
    t.teardown(() => app.close())
    const status = async (url: string) => (await app.inject({ method: 'GET', url })).statusCode
    return { health: await status('/health'), metrics: await status('/metrics') }
  }
  t.same(await routes({}), { health: 404, metrics: 404 }, 'off by default')
  t.same(await routes({ health: true }), { health: 200, metrics: 200 })
  t.same(await routes({ health: true, metrics: false }), { health: 200, metrics: 404 })
  t.same(await routes({ metrics: true }), { health: 404, metrics: 200 })
})
