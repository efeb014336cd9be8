// b24-receiver itself for bench/ingest.ts: the real service (token check, decoding, validation,
// inbox commit, worker and router) from the environment. Sends its URL over IPC, then on SIGTERM
// its peak memory.
import { startServer } from '../src/service/start-server.ts'

const server = await startServer(process.env)
process.send?.({ url: server.url })
process.on('SIGTERM', () => {
  process.send?.({ maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }, () => process.exit(0))
})
