// The receiver an integrator writes by hand, the baseline of bench/ingest.ts: Fastify,
// `@fastify/formbody` with `qs.parse` (nested keys, as Bitrix24's bodies need), 200. No token
// check, no validation, no storage, no log.
import formbody from '@fastify/formbody'
import Fastify from 'fastify'
import qs from 'qs'
import { announceServer } from './announce-server.ts'

const app = Fastify()
await app.register(formbody, { parser: (body) => qs.parse(body) })
app.post('/webhook', async () => ({ ok: true }))
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }
announceServer(`http://127.0.0.1:${port}`)
