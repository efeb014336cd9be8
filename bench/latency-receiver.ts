// The service for bench/keep-pace.ts: as it ships (from the environment), plus one handler that
// records how long each event took from its POST to its handler. The load generator writes its
// send time as the message text; both read the same clock, the system's wall clock in ms with a
// fraction (`performance.timeOrigin + performance.now()`), comparable across processes on one
// machine. On SIGTERM it reports the percentiles with its peak memory.
import { startServer } from '../src/service/start-server.ts'
import { announceServer } from './announce-server.ts'
import { percentile } from './percentile.ts'

/** What this child reports on SIGTERM, besides its peak memory. */
export interface LatencyReport {
  /** Events whose handler ran. */
  handled: number
  /** Post-to-handler latency, ms. */
  p50Ms: number
  p99Ms: number
  maxMs: number
}

const latencies: number[] = []
const server = await startServer(process.env, {
  setup: (receiver) =>
    receiver.on('ONIMBOTV2MESSAGEADD', (event) => {
      const sent = Number(event.data.message.text)
      if (!Number.isNaN(sent)) latencies.push(performance.timeOrigin + performance.now() - sent)
    }),
})
announceServer(server.url, (): LatencyReport => ({ handled: latencies.length, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), maxMs: percentile(latencies, 1) }))
