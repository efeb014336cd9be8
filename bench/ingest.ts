// Ingest throughput of the captured 4.6 KB event: b24-receiver (the service as it ships) against
// two Fastify receivers that do less (see naive-receiver.ts and limit-receiver.ts), side by side.
// Rounds alternate naive → limit → b24, each a fresh server process loaded by autocannon from
// this process with distinct events (new message id and text each request, so dedup stores every
// one); medians over the rounds, so that a neighbour slowing one round does not decide. Also the
// server's CPU time per request, steadier than req/s on a shared machine, and b24's inbox depth
// when the load stops: how far its worker fell behind the door during a burst at full speed.
//   npm run bench -- ingest        BENCH_ROUNDS (5), BENCH_SECONDS (5)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { EVENT_TOKEN, eventBody } from './event-bodies.ts'
import { median } from './percentile.ts'
import { readHealth } from './read-health.ts'
import { serveChild } from './serve-child.ts'
import { verdict } from './verdict.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = 32

interface Round {
  requestsPerSecond: number
  /** Requests answered. */
  total: number
  p50Ms: number
  p99Ms: number
  maxRssMb: number
  non2xx: number
  /** Connection errors, timeouts included. */
  errors: number
  /** Server CPU time (all its threads) per request answered. */
  cpuUsPerRequest: number
  /** b24 only: `inbox.depth` from /health as the load stops. */
  inboxDepth?: number
}

interface Receiver {
  name: string
  script: URL
  /** b24 only: the service's environment, given the round's data directory. */
  env?: (dataDir: string) => Record<string, string>
}

const RECEIVERS: Receiver[] = [
  { name: 'naive', script: new URL('./naive-receiver.ts', import.meta.url) },
  { name: 'limit', script: new URL('./limit-receiver.ts', import.meta.url) },
  // As it ships: default log level (a line per event), worker running.
  { name: 'b24', script: new URL('./service-receiver.ts', import.meta.url), env: (dataDir) => ({ PORT: '0', DATA_DIR: dataDir, B24_APP_TOKENS: EVENT_TOKEN }) },
]

async function round(receiver: Receiver, dataDir: string): Promise<Round> {
  const child = await serveChild(receiver.script, receiver.env?.(dataDir) ?? {}, join(dataDir, `${receiver.name}.log`))
  const cpuBefore = child.cpuMs()
  let sent = 0
  const result = await autocannon({
    url: `${child.url}/webhook`,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' },
        setupRequest: (request) => {
          const i = sent++
          return { ...request, body: eventBody({ id: 2_000_000 + i, text: `сообщение номер ${i}` }) }
        },
      },
    ],
  })
  const cpuUsPerRequest = ((child.cpuMs() - cpuBefore) * 1000) / result.requests.total
  const depth = receiver.env ? (await readHealth(child.url)).inbox?.depth ?? Number.NaN : undefined
  const { maxRssMb } = await child.stop()
  return {
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxRssMb,
    non2xx: result.non2xx,
    errors: result.errors,
    cpuUsPerRequest,
    ...(depth === undefined ? {} : { inboxDepth: depth }),
  }
}

export async function benchIngest(): Promise<string> {
  const rounds = new Map<string, Round[]>(RECEIVERS.map((receiver) => [receiver.name, []]))
  for (let i = 0; i < ROUNDS; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'b24-bench-ingest-'))
    try {
      for (const receiver of RECEIVERS) rounds.get(receiver.name)?.push(await round(receiver, dataDir))
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
  const of = (name: string) => rounds.get(name) as Round[]
  const med = (name: string, figure: (r: Round) => number) => median(of(name).map(figure))
  const rps = (r: Round) => r.requestsPerSecond
  const summary = (name: string) => {
    const rs = of(name)
    const errors = rs.reduce((sum, r) => sum + r.errors, 0)
    return (
      `${name.padEnd(6)} ${med(name, rps).toFixed(0).padStart(6)} req/s  p50 ${med(name, (r) => r.p50Ms)} ms  p99 ${med(name, (r) => r.p99Ms)} ms  ` +
      `peak RSS ${med(name, (r) => r.maxRssMb)} MB  CPU ${med(name, (r) => r.cpuUsPerRequest).toFixed(0)} µs/req  ` +
      `non-2xx ${rs.reduce((sum, r) => sum + r.non2xx, 0)}${errors > 0 ? `  errors ${errors}` : ''}  (rounds: ${rs.map((r) => r.requestsPerSecond.toFixed(0)).join(', ')})`
    )
  }
  // Rounds alternate, so round i of each receiver ran under the same neighbours: per-round ratios
  // show how much of a median ratio is noise.
  const perRound = (name: string, base: string) => of(name).map((r, i) => (r.requestsPerSecond / (of(base)[i] as Round).requestsPerSecond).toFixed(2)).join(', ')
  const depths = of('b24').map((r) => r.inboxDepth as number)
  return [
    `${ROUNDS} rounds of ${SECONDS} s (naive → limit → b24), ${CONNECTIONS} connections, distinct 4.6 KB events; medians`,
    ...RECEIVERS.map((receiver) => summary(receiver.name)),
    `b24 inbox depth as the load stops: median ${median(depths)} (rounds: ${of('b24').map((r) => `${r.inboxDepth} of ${r.total}`).join(', ')} posted)`,
    verdict('b24 ÷ naive req/s', med('b24', rps) / med('naive', rps), '≥', 1.2) + `  (rounds: ${perRound('b24', 'naive')})`,
    verdict('b24 ÷ limit req/s', med('b24', rps) / med('limit', rps), '≥', 0.7) + `  (rounds: ${perRound('b24', 'limit')})`,
    verdict('b24 p99 ÷ naive p99', med('b24', (r) => r.p99Ms) / med('naive', (r) => r.p99Ms), '≤', 1.5),
    verdict('b24 peak RSS ÷ naive peak RSS', med('b24', (r) => r.maxRssMb) / med('naive', (r) => r.maxRssMb), '≤', 1.5),
  ].join('\n')
}
