// Months in minutes: the service as it ships under a steady load for SOAK_MINUTES, each minute
// read the way an operator would (its memory, event loop, store on disk, inbox depth) beside the
// post-to-handler p99 its handler saw. The load (bench/soak-bodies.ts) is SOAK_RATE posts a second
// from a stand-in portal (test/fakes/limited-portal.ts, its REST bucket 20/200 and the service's
// B24_REST_RATE alike) of every chat event type, with double deliveries, edits and deletions of
// earlier messages, a dead letter now and then, and a handler (bench/soak-receiver.ts) that
// answers one message in 20 through the portal.
//
// What months do to a store, minutes do here when the windows are minutes: the dedup window is
// DEDUP_WINDOW_MS = 2 minutes (a day by default), so from minute 2 the store drops as many dedup
// keys as it takes in, as it does from day 2 in production. Dead letters are not: their retention
// is days (test/store/ tests its purge), and until it the store grows by each one (~8 KB), so
// they come rarely here, one in 20 000 posts (every 100 s at 200 a second).
//
// Floors (issue #27), from minute SOAK_BASE_MINUTE (5) to the end: RSS grows ≤ 10% (the level of
// the last five samples), the store's size on disk stays within 1.25× of its size at that minute,
// the post-to-handler p99 within 1.5× of that minute's (each minute's, and over the whole span),
// the inbox depth at every sample ≤ one second of load. And at the
// end: every event posted answered 200, handled once (double deliveries recognised), the invalid
// ones in the dead letter, every reply asked for sent once.
//
//   npm run bench -- soak     SOAK_MINUTES (10), SOAK_RATE (200), SOAK_STORE (sqlite | postgres),
//   SOAK_SAMPLE_SECONDS (60: a sample a minute), SOAK_BASE_MINUTE (5), BENCH_DATABASE_URL.
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { LimitedPortal } from '../test/fakes/limited-portal.ts'
import { pacedLoad } from './paced-load.ts'
import { median, percentile } from './percentile.ts'
import { readHealth } from './read-health.ts'
import { withScratchDatabase } from './scratch-database.ts'
import { serveChild, type ServerChild } from './serve-child.ts'
import { soakBodies, SOAK_TOKEN, type SoakMade } from './soak-bodies.ts'
import type { SoakSample } from './soak-receiver.ts'
import { verdict } from './verdict.ts'

const MINUTES = Number(process.env.SOAK_MINUTES ?? 10)
const RATE = Number(process.env.SOAK_RATE ?? 200)
const STORE = process.env.SOAK_STORE ?? 'sqlite'
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 60) * 1000
const BASE_MINUTE = Number(process.env.SOAK_BASE_MINUTE ?? 5)
const CONNECTIONS = 16
const REST_RATE = { drainPerSecond: 20, threshold: 200 }
const SECRET_KEY = '5a'.repeat(32)
const DEDUP_WINDOW_MS = 120_000
/** After the load, how long the inbox is given to empty and the last replies to be sent. */
const DRAIN_MS = 60_000
const SERVICE = new URL('./soak-receiver.ts', import.meta.url)
const HEADERS = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' }
const MB = 1024 * 1024

/** One line of the report: a sample of the service, its store and its inbox. */
interface Row extends SoakSample {
  minute: number
  storeMb: number
  depth: number
  deadLetters: number
  /** SQLite: the WAL file, besides the database file (storeMb). */
  walMb: number | null
  /** PostgreSQL: the inbox table's dead row versions (what autovacuum has yet to reclaim). */
  deadTuples: number | null
}

/** The store's size on disk: SQLite's database file and its WAL apart, PostgreSQL's tables with the inbox's dead row versions. */
type StoreReader = () => Promise<{ bytes: number; walBytes: number | null; deadTuples: number | null }>

export async function benchSoak(): Promise<string> {
  if (STORE !== 'sqlite' && STORE !== 'postgres') throw new Error(`SOAK_STORE is sqlite or postgres, not '${STORE}'`)
  const dataDir = mkdtempSync(join(tmpdir(), 'b24-bench-soak-'))
  const portal = await LimitedPortal.start({ rate: REST_RATE })
  try {
    const env = {
      PORT: '0',
      DATA_DIR: join(dataDir, 'data'),
      B24_APP_TOKENS: SOAK_TOKEN,
      B24_SECRET_KEY: SECRET_KEY,
      B24_PORTAL_HOSTS: '127.0.0.1',
      B24_REST_RATE: `${REST_RATE.drainPerSecond}/${REST_RATE.threshold}`,
      DEDUP_WINDOW_MS: String(DEDUP_WINDOW_MS),
    }
    if (STORE === 'sqlite') {
      const size = (file: string) => (existsSync(join(env.DATA_DIR, file)) ? statSync(join(env.DATA_DIR, file)).size : 0)
      return await soak(portal, env, dataDir, async () => ({ bytes: size('inbox.db'), walBytes: size('inbox.db-wal'), deadTuples: null }))
    }
    return await withScratchDatabase('b24_bench_soak', async (url) => {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        const read: StoreReader = async () => {
          const size = await client.query<{ bytes: string }>(`SELECT coalesce(sum(pg_total_relation_size(oid)), 0) AS bytes FROM pg_class WHERE relkind = 'r' AND relname LIKE 'b24\\_%'`)
          const dead = await client.query<{ n: string }>(`SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE relname = 'b24_inbox'`)
          return { bytes: Number(size.rows[0]?.bytes), walBytes: null, deadTuples: Number(dead.rows[0]?.n ?? Number.NaN) }
        }
        return await soak(portal, { ...env, DATABASE_URL: url }, dataDir, read)
      } finally {
        await client.end()
      }
    })
  } finally {
    await portal.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function soak(portal: LimitedPortal, env: Record<string, string>, dataDir: string, store: StoreReader): Promise<string> {
  const child = await serveChild(SERVICE, env, join(dataDir, 'service.log'))
  const rows: Row[] = []
  const lines = [`${STORE}: ${RATE} events/s for ${MINUTES} min, ${CONNECTIONS} connections, a sample every ${SAMPLE_MS / 1000} s`, header()]
  console.log(lines.join('\n'))
  let stopped = false
  try {
    const { body, made } = soakBodies(portal)
    const start = performance.now()
    const load = pacedLoad({ url: `${child.url}/webhook`, rate: RATE, seconds: MINUTES * 60, connections: CONNECTIONS, headers: HEADERS, body })
    const sampling = (async () => {
      for (let k = 1; k <= MINUTES * (60_000 / SAMPLE_MS); k++) {
        await sleep(start + k * SAMPLE_MS - performance.now())
        if (stopped) return
        const row = await sample(child, store, (k * SAMPLE_MS) / 60_000)
        rows.push(row)
        console.log(line(row))
        lines.push(line(row))
      }
    })()
    const result = await load
    await sampling
    const drained = await drain(child)
    const last = await sample(child, store, Number.NaN)
    lines.push(line(last), ...verdicts(rows, last, made, result, drained, portal))
    return lines.join('\n')
  } finally {
    stopped = true
    await child.stop().catch(() => undefined)
  }
}

async function sample(child: ServerChild, store: StoreReader, minute: number): Promise<Row> {
  const service = await child.ask<SoakSample>('sample')
  // A figure of no sample (a p99 of no timed event) is NaN, which IPC's JSON carries as null.
  service.p99Ms ??= Number.NaN
  const health = await readHealth(child.url)
  const { bytes, walBytes, deadTuples } = await store()
  return { ...service, minute, storeMb: bytes / MB, walMb: walBytes === null ? null : walBytes / MB, depth: health.inbox?.depth ?? Number.NaN, deadLetters: health.inbox?.deadLetters ?? Number.NaN, deadTuples }
}

// Waits, up to DRAIN_MS, until the inbox is empty and no handler runs: ms taken, or null.
async function drain(child: ServerChild): Promise<number | null> {
  const start = performance.now()
  while (performance.now() - start < DRAIN_MS) {
    const { inbox, events } = await readHealth(child.url)
    if (inbox?.depth === 0 && events.inFlight === 0) return performance.now() - start
    await sleep(100)
  }
  return null
}

const header = () =>
  ['minute', 'RSS MB', 'heap MB', 'loop p99 ms', 'store MB', 'WAL MB', 'depth', 'handled', 'p99 ms', 'replies', 'dead tuples'].map((h) => h.padStart(11)).join(' ')

const line = (row: Row) =>
  [Number.isNaN(row.minute) ? 'drained' : row.minute.toFixed(1), row.rssMb.toFixed(1), row.heapUsedMb.toFixed(1), row.loopDelayP99Ms.toFixed(1), row.storeMb.toFixed(2), row.walMb === null ? '-' : row.walMb.toFixed(2), String(row.depth), String(row.handled), row.p99Ms.toFixed(1), `${row.replies}${row.replyFailures > 0 ? `/${row.replyFailures} failed` : ''}`, row.deadTuples === null ? '-' : String(row.deadTuples)]
    .map((cell) => cell.padStart(11))
    .join(' ')

function verdicts(rows: Row[], last: Row, made: SoakMade, result: Awaited<ReturnType<typeof pacedLoad>>, drainedMs: number | null, portal: LimitedPortal): string[] {
  const out: string[] = []
  // The minute the growth is measured from: the base minute, or the first sample of a shorter run.
  const base = rows.find((row) => row.minute >= BASE_MINUTE) ?? rows[0]
  if (base === undefined) return ['no sample: the run was shorter than one sample']
  const after = rows.filter((row) => row.minute >= base.minute)
  const max = (pick: (row: Row) => number) => Math.max(...after.map(pick))
  out.push(
    `from minute ${base.minute.toFixed(1)} (RSS ${base.rssMb.toFixed(1)} MB, store ${base.storeMb.toFixed(2)} MB, p99 ${base.p99Ms.toFixed(1)} ms) to minute ${after.at(-1)?.minute.toFixed(1)}:`,
    // A garbage-collected heap swings by tens of MB from one minute to the next (the most is
    // reported): growth is the level the last minutes settle at, against the base minute's.
    `  ${verdict('RSS, median of the last 5 samples ÷ base minute', median(after.slice(-5).map((row) => row.rssMb)) / base.rssMb, '≤', 1.1)}  (most ${(max((row) => row.rssMb) / base.rssMb).toFixed(3)})`,
    `  ${verdict('store on disk, most ÷ base minute', max((row) => row.storeMb) / base.storeMb, '≤', 1.25)}`,
    `  ${verdict('post-to-handler p99, worst minute ÷ base', max((row) => row.p99Ms) / base.p99Ms, '≤', 1.5)}`,
    // One minute's p99 is its ~120 slowest events: a stall of a few ms moves it. Over the whole
    // span, a p99 that drifts up shows where one noisy minute would not.
    `  ${verdict(`post-to-handler p99 after minute ${base.minute.toFixed(1)} ÷ base`, percentile(after.slice(1).flatMap((row) => row.latencies), 0.99) / base.p99Ms, '≤', 1.5)}`,
    `  ${verdict('inbox depth, most (≤ one second of load)', max((row) => row.depth), '≤', RATE, 0)}`,
    ...(base.walMb === null ? [] : [`  ${verdict('SQLite WAL, most MB (its cap: 64)', max((row) => row.walMb ?? 0), '≤', 64, 1)}`]),
  )
  const all = [...rows, last]
  const sum = (pick: (row: Row) => number) => all.reduce((total, row) => total + pick(row), 0)
  const distinct = made.posts - made.again
  const handled = sum((row) => row.handled)
  const sent = new Map<string, number>()
  for (const message of portal.messages) sent.set(message.text, (sent.get(message.text) ?? 0) + 1)
  const twice = [...sent.values()].filter((n) => n > 1).length
  out.push(
    `at the end: posted ${made.posts} (${made.again} double deliveries), answered 200 ${result.answered - result.non2xx}, non-2xx ${result.non2xx}, errors ${result.errors}; inbox ${drainedMs === null ? `not empty ${DRAIN_MS / 1000} s after the load` : `empty ${(drainedMs / 1000).toFixed(1)} s after the load`}`,
    // A post with no 200 was not acknowledged: not stored, as Bitrix24 would count it (a double delivery's first, at most).
    `  ${verdict('events handled once ÷ valid distinct acknowledged', handled / (distinct - made.invalid - result.non2xx - result.errors), '≥', 1)}`,
    `  ${verdict('handlers run twice for one event', sum((row) => row.repeats), '≤', 0, 0)}`,
    `  ${verdict('replies sent ÷ asked for', sent.size / made.replies, '≥', 1)}`,
    `  ${verdict('replies sent twice', twice, '≤', 0, 0)}`,
    made.invalid === 0 ? '  no invalid event posted (a run of fewer than 20 000 posts)' : `  ${verdict('dead letters ÷ invalid events posted', last.deadLetters / made.invalid, '≥', 1)}`,
    `  reply attempts that failed ${sum((row) => row.replyFailures)}; portal calls refused ${JSON.stringify(portal.counts.refused)}`,
  )
  return out
}
