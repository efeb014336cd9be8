// Whether the service keeps pace with a steady load below its ceiling: the worker should hand
// events over about as fast as the door stores them, not let the inbox grow. The service runs
// as it ships, with EVENTS_FILE and a handler that records post-to-handler latency
// (latency-receiver.ts); the load is sent evenly at a fixed rate (paced-load.ts), each body made
// as it is sent so that its text carries a fresh send time. Two loads: many chats (the worker runs them side by
// side) and one chat (strictly one at a time). As each load stops, the inbox depth from /health,
// which should be below one second of load; then, once the inbox is empty again, the latency
// percentiles the handler saw.

//   npm run bench -- keep-pace     BENCH_KEEP_PACE_SCALE (1; 0.1 for a smoke run shortens each load)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CAPTURED_CHAT, EVENT_TOKEN, eventBody } from './event-bodies.ts'
import type { LatencyReport } from './latency-receiver.ts'
import { pacedLoad } from './paced-load.ts'
import { percentile } from './percentile.ts'
import { readHealth } from './read-health.ts'
import { serveChild } from './serve-child.ts'
import { verdict } from './verdict.ts'

const SCALE = Number(process.env.BENCH_KEEP_PACE_SCALE ?? 1)
const CONNECTIONS = 32
const LATENCY_CEILING_MS = 100
// How long the service may take to empty its inbox after a load before its latencies are read
// without the events still stored (said so in the output).
const CATCH_UP_MS = 60_000
// Before each load, the same rate for a moment, not measured: a fresh process compiles its hot
// paths on the first requests, which says nothing about keeping pace.
const WARMUP_SECONDS = 3

interface Load {
  name: string
  /** Events per second over all connections. */
  rate: number
  chats: number
  seconds: number
}

const LOADS: Load[] = [
  { name: '100 chats', rate: 1500, chats: 100, seconds: 45 },
  { name: 'one chat', rate: 500, chats: 1, seconds: 30 },
]

async function runLoad(load: Load): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'b24-bench-keep-pace-'))
  try {
    const env = { PORT: '0', DATA_DIR: dataDir, B24_APP_TOKENS: EVENT_TOKEN, EVENTS_FILE: join(dataDir, 'events.jsonl') }
    const child = await serveChild(new URL('./latency-receiver.ts', import.meta.url), env, join(dataDir, 'service.log'))
    const seconds = Math.max(1, Math.round(load.seconds * SCALE))
    const sendTimes: number[] = []
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' }
    // Warm-up events carry no send time: the handler leaves them out.
    await pacedLoad({ url: `${child.url}/webhook`, rate: load.rate, seconds: WARMUP_SECONDS, connections: CONNECTIONS, headers, body: (i) => eventBody({ id: 4_000_000 + i, text: 'warm-up', chat: CAPTURED_CHAT + (i % load.chats) }) })
    await emptied(child.url)
    const result = await pacedLoad({
      url: `${child.url}/webhook`,
      rate: load.rate,
      seconds,
      connections: CONNECTIONS,
      headers,
      body: (i) => {
        const sent = performance.timeOrigin + performance.now()
        sendTimes.push(sent)
        return eventBody({ id: 3_000_000 + i, text: String(sent), chat: CAPTURED_CHAT + (i % load.chats) })
      },
    })
    const depth = (await readHealth(child.url)).inbox?.depth ?? Number.NaN
    const catchUpMs = await emptied(child.url)
    const report = await child.stop<LatencyReport>()
    const achieved = result.answered / seconds
    const errors = result.errors
    const handledNote = report.handled === sendTimes.length ? '' : `; handled ${report.handled} of ${sendTimes.length} sent`
    return [
      `${load.name}: ${load.rate} events/s for ${seconds} s, ${CONNECTIONS} connections`,
      `  answered ${achieved.toFixed(0)} req/s (sent ${sendTimes.length}, peak 100-ms send rate ${peakRate(sendTimes, 100).toFixed(0)}/s), non-2xx ${result.non2xx}${errors > 0 ? `, errors ${errors}` : ''}, request p50 ${percentile(result.latencies, 0.5).toFixed(1)} ms p99 ${percentile(result.latencies, 0.99).toFixed(1)} ms`,
      // A load the service (or the shared machine) could not take tests nothing of keeping pace.
      `  ${verdict('load reached: answered ÷ target rate', achieved / load.rate, '≥', 0.95)}`,
      `  ${verdict('inbox depth as the load stops (< 1 s of load)', depth, '<', load.rate, 0)}`,
      `  inbox empty ${catchUpMs === null ? `not within ${CATCH_UP_MS / 1000} s` : `${(catchUpMs / 1000).toFixed(1)} s`} after the load${handledNote}; peak RSS ${report.maxRssMb} MB`,
      `  post-to-handler p50 ${report.p50Ms.toFixed(1)} ms, max ${report.maxMs.toFixed(0)} ms`,
      `  ${verdict('post-to-handler p99 ms', report.p99Ms, '≤', LATENCY_CEILING_MS, 1)}`,
    ].join('\n')
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

// Waits until the service's inbox is empty and no handler runs, up to CATCH_UP_MS: ms taken, or
// null. Every event's latency then counts, the late ones most of all.
async function emptied(url: string): Promise<number | null> {
  const start = performance.now()
  while (performance.now() - start < CATCH_UP_MS) {
    const { inbox, events } = await readHealth(url)
    if (inbox?.depth === 0 && events.inFlight === 0) return performance.now() - start
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return null
}

// The most sent in any `windowMs` (aligned windows), as a rate per second.
function peakRate(times: number[], windowMs: number): number {
  const counts = new Map<number, number>()
  for (const t of times) counts.set(Math.floor(t / windowMs), (counts.get(Math.floor(t / windowMs)) ?? 0) + 1)
  return (Math.max(0, ...counts.values()) * 1000) / windowMs
}

export async function benchKeepPace(): Promise<string> {
  const reports: string[] = []
  for (const load of LOADS) reports.push(await runLoad(load))
  return reports.join('\n')
}
