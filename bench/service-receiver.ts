// b24-receiver itself for bench/ingest.ts: the real service (token check, decoding, validation,
// inbox commit, worker and router) from the environment. Prints its URL, then on SIGTERM its
// peak memory and how many events the inbox stored.
import { startServer } from '../src/server.ts'

const server = await startServer(process.env)
console.log(JSON.stringify({ url: server.url }))
process.on('SIGTERM', () => {
  console.log(JSON.stringify({ maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }))
  process.exit(0)
})
