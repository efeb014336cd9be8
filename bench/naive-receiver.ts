// The receiver an integrator writes by hand, the baseline of bench/ingest.ts: Fastify, form
// parsing, 200. No token check, no validation, no storage, no log. Sends its URL over IPC, then
// on SIGTERM its peak memory.
import formbody from '@fastify/formbody'
import Fastify from 'fastify'

const app = Fastify()
await app.register(formbody)
app.post('/webhook', async () => ({ ok: true }))
await app.listen({ port: 0, host: '127.0.0.1' })
const { port } = app.server.address() as { port: number }
process.send?.({ url: `http://127.0.0.1:${port}` })
process.on('SIGTERM', () => {
  process.send?.({ maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }, () => process.exit(0))
})
