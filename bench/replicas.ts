// Ingest on the shared PostgreSQL store against the embedded SQLite store, side by side: the
// service as it ships, one replica on each (the floor: PostgreSQL ≥ 0.7× SQLite), and two
// replicas on one PostgreSQL with the load split between them (reported beside: on two cores
// shared with the load generator it shows the cost of a second replica, not its gain). Rounds
// alternate sqlite → sqlite+fsync → pg → pg×2, each on a fresh database; medians over the rounds.
//   npm run bench -- replicas      BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_DATABASE_URL
//   (a database the benchmark may create databases through; the local one by default)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import pg from 'pg'
import { EVENT_TOKEN, eventBody } from './event-bodies.ts'
import { median } from './percentile.ts'
import { readHealth } from './read-health.ts'
import { serveChild, type ServerChild } from './serve-child.ts'
import { verdict } from './verdict.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = 32
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const SECRET_KEY = '5a'.repeat(32)
const SERVICE = new URL('./service-receiver.ts', import.meta.url)

interface Round {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** Server CPU time (every replica, all threads) per request answered. */
  cpuUsPerRequest: number
  non2xx: number
  errors: number
  /** Events stored and not yet handled as the load stops (the worker's lag behind the door). */
  depth: number
}

let sent = 0
// Posts at every replica at once, the connections split between them; per-replica results summed.
async function load(children: ServerChild[]): Promise<Round> {
  const cpuBefore = children.map((child) => child.cpuMs())
  const results = await Promise.all(
    children.map((child) =>
      autocannon({
        url: `${child.url}/webhook`,
        connections: CONNECTIONS / children.length,
        duration: SECONDS,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' },
            setupRequest: (request) => {
              const i = sent++
              return { ...request, body: eventBody({ id: 3_000_000 + i, text: `сообщение номер ${i}` }) }
            },
          },
        ],
      }),
    ),
  )
  const total = results.reduce((sum, r) => sum + r.requests.total, 0)
  const cpuMs = children.reduce((sum, child, i) => sum + child.cpuMs() - (cpuBefore[i] as number), 0)
  const depth = (await readHealth((children[0] as ServerChild).url)).inbox?.depth ?? Number.NaN
  return {
    requestsPerSecond: results.reduce((sum, r) => sum + r.requests.average, 0),
    p50Ms: Math.max(...results.map((r) => r.latency.p50)),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    cpuUsPerRequest: (cpuMs * 1000) / total,
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    depth,
  }
}

async function withDatabase<T>(work: (url: string) => Promise<T>): Promise<T> {
  const name = `b24_bench_${process.pid}_${Date.now()}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
    const url = new URL(ADMIN_URL)
    url.pathname = `/${name}`
    return await work(url.href)
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}

async function round(replicas: number, dataDir: string, databaseUrl: string | null, extra: Record<string, string> = {}): Promise<Round> {
  const children: ServerChild[] = []
  try {
    for (let i = 0; i < replicas; i++) {
      const env = { PORT: '0', DATA_DIR: join(dataDir, `replica-${i}`), B24_APP_TOKENS: EVENT_TOKEN, B24_SECRET_KEY: SECRET_KEY, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...extra }
      children.push(await serveChild(SERVICE, env, join(dataDir, `replica-${i}.log`)))
    }
    return await load(children)
  } finally {
    for (const child of children) await child.stop()
  }
}

const SETUPS = [
  { name: 'sqlite', run: (dir: string) => round(1, dir, null) },
  // The embedded store with an fsync per group commit, as PostgreSQL's synchronous_commit makes one: reported beside.
  { name: 'sqlite+fsync', run: (dir: string) => round(1, dir, null, { INBOX_DURABILITY: 'power' }) },
  { name: 'pg', run: (dir: string) => withDatabase((url) => round(1, dir, url)) },
  { name: 'pg×2', run: (dir: string) => withDatabase((url) => round(2, dir, url)) },
]

export async function benchReplicas(): Promise<string> {
  const rounds = new Map<string, Round[]>(SETUPS.map((setup) => [setup.name, []]))
  for (let i = 0; i < ROUNDS; i++) {
    for (const setup of SETUPS) {
      const dataDir = mkdtempSync(join(tmpdir(), 'b24-bench-replicas-'))
      try {
        rounds.get(setup.name)?.push(await setup.run(dataDir))
      } finally {
        rmSync(dataDir, { recursive: true, force: true })
      }
    }
  }
  const of = (name: string) => rounds.get(name) as Round[]
  const med = (name: string, figure: (r: Round) => number) => median(of(name).map(figure))
  const rps = (r: Round) => r.requestsPerSecond
  const summary = (name: string) => {
    const rs = of(name)
    const errors = rs.reduce((sum, r) => sum + r.errors, 0)
    return (
      `${name.padEnd(12)} ${med(name, rps).toFixed(0).padStart(6)} req/s  p50 ${med(name, (r) => r.p50Ms)} ms  p99 ${med(name, (r) => r.p99Ms)} ms  ` +
      `CPU ${med(name, (r) => r.cpuUsPerRequest).toFixed(0)} µs/req  depth at stop ${med(name, (r) => r.depth)}  non-2xx ${rs.reduce((sum, r) => sum + r.non2xx, 0)}` +
      `${errors > 0 ? `  errors ${errors}` : ''}  (rounds: ${rs.map((r) => r.requestsPerSecond.toFixed(0)).join(', ')})`
    )
  }
  const perRound = (name: string) => of(name).map((r, i) => (r.requestsPerSecond / (of('sqlite')[i] as Round).requestsPerSecond).toFixed(2)).join(', ')
  return [
    `${ROUNDS} rounds of ${SECONDS} s (sqlite → sqlite+fsync → pg → pg×2), ${CONNECTIONS} connections in all, distinct 4.6 KB events; medians`,
    ...SETUPS.map((setup) => summary(setup.name)),
    verdict('pg ÷ sqlite req/s (one replica)', med('pg', rps) / med('sqlite', rps), '≥', 0.7) + `  (rounds: ${perRound('pg')})`,
    `two replicas ÷ sqlite req/s: ${(med('pg×2', rps) / med('sqlite', rps)).toFixed(3)}  (rounds: ${perRound('pg×2')}; reported, no floor)`,
    `pg ÷ sqlite+fsync req/s: ${(med('pg', rps) / med('sqlite+fsync', rps)).toFixed(3)}  (both commit durably to disk before the 200; reported, no floor)`,
  ].join('\n')
}
