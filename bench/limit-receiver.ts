// The framework's ceiling for bench/ingest.ts: Fastify, `@fastify/formbody` with its default
// flat parser (`querystring`-style: `data[message][id]` stays one key), 200. No receiver can do
// less and still read the form; b24-receiver is measured against it.
import formbody from '@fastify/formbody'
import Fastify from 'fastify'
import { announceServer } from './announce-server.ts'

const app = Fastify()
await app.register(formbody)
app.post('/webhook', async () => ({ ok: true }))
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }
announceServer(`http://127.0.0.1:${port}`)
