// Ingest and work on the shared PostgreSQL store against the embedded SQLite store, side by side:
// the service as it ships with one handler that makes no REST call (bench/lag-receiver.ts), one
// replica on each, and two replicas on one PostgreSQL with the load split between them (reported
// beside: on two cores shared with the load generator it shows the cost of a second replica, not
// its gain). Rounds alternate sqlite → sqlite+fsync → pg → pg×2, each on a fresh database;
// medians over the rounds.
//
// The load: 16 concurrent senders in all (autocannon connections, split between the replicas),
// each event distinct (its own message id), the events spread round-robin over 16 chats, so that
// the worker may run chats side by side (a chat's events are handled one at a time).
//
// Each round reports:
// - req/s, p50/p99 of the 200 (autocannon), and the service's CPU (every replica, all threads;
//   the Node processes only, not PostgreSQL's) per request during the load and per handled event
//   over the load and its drain (until every event answered 200 has had its handler started);
// - the time from the 200 to the handler: per event, the moment its handler started minus the
//   moment the door (of whichever replica) handed the 200 to the socket, p50/p99 over the round's
//   events; beside it, the service's own histogram of stored → first attempt
//   (`b24_post_to_handler_seconds`), as bucket bounds;
// - with PostgreSQL, transactions per handled event: every transaction of the round's database
//   (`xact_commit + xact_rollback` of `pg_stat_database`), read by name on the benchmark's
//   connection to another database (ADMIN_URL's), so its own reads are not counted, from a
//   settled point before the load to a settled point after the drain; and idle transactions per
//   second per replica over a quiet window after that, the service running, nothing posted.
//   PostgreSQL 15 backends flush their counts lazily (at most once a second, an idle one within
//   ~10 s): each read is made after SETTLE_MS of quiet, so that what is still unflushed at a read
//   is the same few idle transactions at both ends of a span. Nothing else reads the database
//   during a round (the drain is followed over IPC, not /health, which would query it).
// - a paced phase, after the above (with PostgreSQL after the idle window, so that none of the
//   figures above counts it): a steady PACED_RATE events/s for PACED_SECONDS, sent evenly in time
//   (bench/paced-load.ts, 16 sockets in all, split between the replicas as the rate is), distinct
//   events round-robin over the same 16 chats, ids of their own. At full speed the time from the
//   200 to the handler is mostly the backlog a door faster than its worker builds, which favours a
//   slower door; at a rate both keep up with it is the worker's own delay. Reported for that
//   phase's events alone: request p50/p99 (send → answer, waiting for a free socket included), the
//   200 → handler p50/p99/max, the depth as the phase's load stops (events answered 200, handler
//   not yet started: about rate × lag when the worker keeps pace, a backlog when it does not) and
//   its drain, whether every event sent was answered 200 and handled; with PostgreSQL its
//   transactions per handled event (a settled read after it, left out of the figures above).
//   No floor: reported.
//
//   npm run bench -- replicas      BENCH_ROUNDS (5), BENCH_SECONDS (5), BENCH_IDLE_SECONDS (30),
//   BENCH_DRAIN_TIMEOUT_SECONDS (120), BENCH_PACED_RATE (600 events/s), BENCH_PACED_SECONDS (5),
//   BENCH_DATABASE_URL (a database the benchmark may create databases through; the local one by
//   default)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import autocannon from 'autocannon'
import { CAPTURED_CHAT, EVENT_TOKEN, eventBody } from './event-bodies.ts'
import type { HandledCount, LagReport } from './lag-receiver.ts'
import { pacedLoad, type PacedLoadResult } from './paced-load.ts'
import { median, percentile } from './percentile.ts'
import { withScratchDatabase } from './scratch-database.ts'
import { serveChild, type ServerChild } from './serve-child.ts'
import { verdict } from './verdict.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 30)
const DRAIN_TIMEOUT_MS = Number(process.env.BENCH_DRAIN_TIMEOUT_SECONDS ?? 120) * 1000
/** The paced phase: events per second in all (split between the replicas), and for how long. */
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 600)
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 5)
/** Quiet before the paced phase (after the drain, or the idle window with PostgreSQL). */
const PACED_QUIET_MS = 1000
/** The paced phase's message ids start here, past any the closed loop uses (3_000_000 up). */
const PACED_ID_BASE = 50_000_000
/** Concurrent senders in all, split between the replicas. */
const CONNECTIONS = 16
/** Chats the events are spread over, round-robin. */
const CHATS = 16
/** Quiet before each read of pg_stat_database: an idle backend flushes its counts within ~10 s. */
const SETTLE_MS = 11_000
const SECRET_KEY = '5a'.repeat(32)
const SERVICE = new URL('./lag-receiver.ts', import.meta.url)

interface Round {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  /** Server CPU time (every replica, all threads) per request answered, during the load. */
  cpuUsPerRequest: number
  /** Server CPU time per handled event, over the load and its drain. */
  cpuUsPerEvent: number
  non2xx: number
  errors: number
  /** Events answered 200 whose handler had not started as the load stops (the worker's lag behind the door). */
  depth: number
  /** From the load's end to the last handler start; NaN when not drained within the timeout. */
  drainSeconds: number
  /** Distinct events whose handler started; handlers run again for one (at least once). */
  handled: number
  repeats: number
  /** Events answered 200 whose handler never started (before the service stopped): 0 unless an event was lost. */
  unhandled: number
  /** Handler start − the door's 200, ms, over the round's events. */
  lagP50Ms: number
  lagP99Ms: number
  lagMaxMs: number
  /** The service's histogram of stored → first attempt (every replica): the bucket bound, ms, holding p50 and p99. */
  histogramP50Ms: number
  histogramP99Ms: number
  /** PostgreSQL: transactions of the database per handled event, settled before the load to settled after the drain. */
  transactionsPerEvent: number
  /** PostgreSQL: the same from the settled point before the load to after the service stopped (the idle window left out). */
  transactionsPerEventToStop: number
  /** PostgreSQL: transactions per second per replica over the quiet window after the drain. */
  idleTransactionsPerSecond: number
  paced: PacedRound
}

/** The paced phase's figures, over its events alone. */
interface PacedRound {
  sent: number
  answered: number
  non2xx: number
  errors: number
  /** From the phase's first send to its last answer, s (PACED_SECONDS when the door keeps up). */
  loadSeconds: number
  /** Send → answer, ms. */
  requestP50Ms: number
  requestP99Ms: number
  /** Events answered 200 whose handler had not started as the phase's load stops. */
  depth: number
  /** From the phase's load end to its last handler start; NaN when not drained within the timeout. */
  drainSeconds: number
  /** The phase's distinct events whose handler started, and those answered 200 whose handler never did. */
  handled: number
  unhandled: number
  /** Handler start − the door's 200, ms, over the phase's events. */
  lagP50Ms: number
  lagP99Ms: number
  lagMaxMs: number
  /** PostgreSQL: transactions of the database per handled event of the phase (settled before and after). */
  transactionsPerEvent: number
}

interface Setup {
  name: string
  replicas: number
  postgres: boolean
  env?: Record<string, string>
}

const SETUPS: Setup[] = [
  { name: 'sqlite', replicas: 1, postgres: false },
  // The embedded store with an fsync per group commit, as PostgreSQL's synchronous_commit makes one: reported beside.
  { name: 'sqlite+fsync', replicas: 1, postgres: false, env: { INBOX_DURABILITY: 'power' } },
  { name: 'pg', replicas: 1, postgres: true },
  { name: 'pg×2', replicas: 2, postgres: true },
]

/** Every transaction of one database, read from a connection to another. */
interface Transactions {
  read(): Promise<number>
  /** Once no backend is connected to it (they flush their counts as they exit). */
  readWhenGone(): Promise<number>
}

let sent = 0
// Posts at every replica at once, the connections split between them, each event distinct and in
// the next of CHATS chats; per-replica results summed.
function load(children: ServerChild[]) {
  return Promise.all(
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
              const id = 3_000_000 + i
              return {
                ...request,
                // The service keeps it as the request id; bench/lag-receiver.ts matches the 200 to the handler by it.
                headers: { ...request.headers, 'x-request-id': String(id) },
                body: eventBody({ id, text: `сообщение номер ${i}`, chat: CAPTURED_CHAT + (i % CHATS) }),
              }
            },
          },
        ],
      }),
    ),
  )
}

let pacedSent = 0
const pacedHeaders = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' }
// The paced phase's load: PACED_RATE in all, split between the replicas, each with its share of
// the sockets; the j-th event of the phase (j counting over every replica, in send order) has its
// own id and the next of CHATS chats.
async function pacedPhaseLoad(children: ServerChild[]): Promise<{ result: PacedLoadResult; seconds: number }> {
  const n = children.length
  const offset = pacedSent
  const perReplica = Math.round((PACED_RATE / n) * PACED_SECONDS)
  pacedSent += perReplica * n
  const start = performance.now()
  const results = await Promise.all(
    children.map((child, k) => {
      let id = 0
      // bench/paced-load.ts takes one set of headers for every request and spreads it into each
      // right after making that request's body: a getter gives each its own id, the one the body
      // just made (the service keeps it as the request id; bench/lag-receiver.ts matches by it).
      const headers = {
        ...pacedHeaders,
        get 'x-request-id'() {
          return String(id)
        },
      }
      return pacedLoad({
        url: `${child.url}/webhook`,
        rate: PACED_RATE / n,
        seconds: PACED_SECONDS,
        connections: CONNECTIONS / n,
        headers,
        body: (i) => {
          const j = offset + i * n + k
          id = PACED_ID_BASE + j
          return eventBody({ id, text: `размеренное сообщение ${j}`, chat: CAPTURED_CHAT + (j % CHATS) })
        },
      })
    }),
  )
  const seconds = (performance.now() - start) / 1000
  const result: PacedLoadResult = { sent: 0, answered: 0, non2xx: 0, errors: 0, latencies: [] }
  for (const r of results) {
    result.sent += r.sent
    result.answered += r.answered
    result.non2xx += r.non2xx
    result.errors += r.errors
    for (const latency of r.latencies) result.latencies.push(latency)
  }
  return { result, seconds }
}

async function handledBy(children: ServerChild[]): Promise<HandledCount> {
  const counts = await Promise.all(children.map((child) => child.ask<HandledCount>('handled')))
  const sum = (figure: (c: HandledCount) => number) => counts.reduce((total, c) => total + figure(c), 0)
  return { answered: sum((c) => c.answered), handled: sum((c) => c.handled), repeats: sum((c) => c.repeats) }
}

// Until every event answered 200 has had its handler started, up to DRAIN_TIMEOUT_MS from `from`:
// seconds from `from`, or NaN; and the last count.
async function drained(children: ServerChild[], from: number): Promise<{ seconds: number; count: HandledCount }> {
  let count = await handledBy(children)
  while (performance.now() - from < DRAIN_TIMEOUT_MS) {
    count = await handledBy(children)
    if (count.handled >= count.answered) return { seconds: (performance.now() - from) / 1000, count }
    await sleep(50)
  }
  return { seconds: Number.NaN, count }
}

// The bucket bound (ms) at which the summed cumulative histogram reaches fraction p of its count.
function histogramPercentile(reports: LagReport[], p: number): number {
  const sums = new Map<string, number>()
  for (const report of reports) for (const { le, count } of report.histogram ?? []) sums.set(le, (sums.get(le) ?? 0) + count)
  const buckets = [...sums].map(([le, count]) => ({ le: Number(le.replace('+Inf', 'Infinity')), count })).sort((a, b) => a.le - b.le)
  const total = buckets.at(-1)?.count ?? 0
  if (total === 0) return Number.NaN
  return (buckets.find((b) => b.count >= p * total) as { le: number }).le * 1000
}

async function withDatabase<T>(work: (url: string, transactions: Transactions) => Promise<T>): Promise<T> {
  return withScratchDatabase('b24_bench', (url, name, admin) => {
    // A read on this connection is a transaction of ADMIN_URL's database, not of `name`'s.
    const read = async () => Number((await admin.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [name])).rows[0]?.n ?? Number.NaN)
    const transactions: Transactions = {
      read,
      readWhenGone: async () => {
        while (Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1', [name])).rows[0]?.n) > 0) await sleep(100)
        // A backend leaves pg_stat_activity just before it flushes its counts on the way out.
        await sleep(1000)
        return read()
      },
    }
    return work(url, transactions)
  })
}

async function round(setup: Setup, dataDir: string, databaseUrl: string | null, transactions: Transactions | null): Promise<Round> {
  const children: ServerChild[] = []
  let stopped = false
  try {
    for (let i = 0; i < setup.replicas; i++) {
      const env = { PORT: '0', DATA_DIR: join(dataDir, `replica-${i}`), B24_APP_TOKENS: EVENT_TOKEN, B24_SECRET_KEY: SECRET_KEY, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}), ...setup.env }
      children.push(await serveChild(SERVICE, env, join(dataDir, `replica-${i}.log`)))
    }
    const cpuMs = () => children.reduce((sum, child) => sum + child.cpuMs(), 0)
    if (transactions) await sleep(SETTLE_MS) // past the start's migrations, counts flushed
    const beforeLoad = transactions ? await transactions.read() : Number.NaN

    const cpuBefore = cpuMs()
    const results = await load(children)
    const loadEnd = performance.now()
    const cpuLoad = cpuMs() - cpuBefore
    const total = results.reduce((sum, r) => sum + r.requests.total, 0)
    // As the services count them: autocannon leaves out the answers to requests in flight as it stops.
    const atLoadEnd = await handledBy(children)
    const depth = atLoadEnd.answered - atLoadEnd.handled

    // The drain: every event answered 200 has had its handler started.
    const { seconds: drainSeconds, count: lastCount } = await drained(children, loadEnd)
    const cpuDrained = cpuMs() - cpuBefore

    let afterDrain = Number.NaN
    let idleEnd = Number.NaN
    let idle = Number.NaN
    if (transactions) {
      await sleep(SETTLE_MS) // the outcomes written, counts flushed
      afterDrain = await transactions.read()
      await sleep(IDLE_SECONDS * 1000)
      idleEnd = await transactions.read()
      idle = (idleEnd - afterDrain) / IDLE_SECONDS / setup.replicas
    }

    // The paced phase, from a quiet service; its depth counts only what it adds (the closed loop
    // drained, or not, before it).
    await sleep(PACED_QUIET_MS)
    const beforePaced = await handledBy(children)
    const paced = await pacedPhaseLoad(children)
    const pacedEnd = performance.now()
    const atPacedEnd = await handledBy(children)
    const pacedDepth = atPacedEnd.answered - atPacedEnd.handled - (beforePaced.answered - beforePaced.handled)
    const { seconds: pacedDrainSeconds } = await drained(children, pacedEnd)
    let afterPaced = Number.NaN
    if (transactions) {
      await sleep(SETTLE_MS)
      afterPaced = await transactions.read()
    }

    const reports = await Promise.all(children.map((child) => child.ask<LagReport>('report')))
    stopped = true
    for (const child of children) await child.stop()
    const afterStop = transactions ? await transactions.readWhenGone() : Number.NaN

    // Each event's 200 (from whichever replica answered it) against its first handler start (wherever it ran).
    const answeredAt = new Map<number, number>()
    for (const r of reports) r.answeredIds.forEach((id, i) => answeredAt.set(id, r.answeredAt[i] as number))
    const firstStart = new Map<number, number>()
    for (const r of reports)
      r.startedIds.forEach((id, i) => {
        const at = r.startedAt[i] as number
        const earlier = firstStart.get(id)
        if (earlier === undefined || at < earlier) firstStart.set(id, at)
      })
    // The closed loop's events and the paced phase's, apart by id.
    const isPaced = (id: number) => id >= PACED_ID_BASE
    const lags: number[] = []
    const pacedLags: number[] = []
    let handled = 0
    let pacedHandled = 0
    for (const [id, at] of firstStart) {
      if (isPaced(id)) pacedHandled++
      else handled++
      const door = answeredAt.get(id)
      if (door !== undefined) (isPaced(id) ? pacedLags : lags).push(at - door)
    }
    const neverHandled = [...answeredAt.keys()].filter((id) => !firstStart.has(id))
    const unhandled = neverHandled.filter((id) => !isPaced(id)).length
    const pacedUnhandled = neverHandled.length - unhandled
    // Over both phases: the lag receiver counts them, not by id.
    const repeats = reports.reduce((sum, r) => sum + r.repeats, 0) + reports.reduce((sum, r) => sum + r.startedIds.length, 0) - firstStart.size

    return {
      requestsPerSecond: results.reduce((sum, r) => sum + r.requests.average, 0),
      p50Ms: Math.max(...results.map((r) => r.latency.p50)),
      p99Ms: Math.max(...results.map((r) => r.latency.p99)),
      cpuUsPerRequest: (cpuLoad * 1000) / total,
      cpuUsPerEvent: (cpuDrained * 1000) / lastCount.handled,
      non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      depth,
      drainSeconds,
      handled,
      repeats,
      unhandled,
      lagP50Ms: percentile(lags, 0.5),
      lagP99Ms: percentile(lags, 0.99),
      lagMaxMs: percentile(lags, 1),
      histogramP50Ms: histogramPercentile(reports, 0.5),
      histogramP99Ms: histogramPercentile(reports, 0.99),
      transactionsPerEvent: (afterDrain - beforeLoad) / handled,
      // The idle window and the paced phase (with its settle) left out: the closed loop's and the stop's.
      transactionsPerEventToStop: (afterDrain - beforeLoad + (afterStop - afterPaced)) / handled,
      idleTransactionsPerSecond: idle,
      paced: {
        sent: paced.result.sent,
        answered: paced.result.answered,
        non2xx: paced.result.non2xx,
        errors: paced.result.errors,
        loadSeconds: paced.seconds,
        requestP50Ms: percentile(paced.result.latencies, 0.5),
        requestP99Ms: percentile(paced.result.latencies, 0.99),
        depth: pacedDepth,
        drainSeconds: pacedDrainSeconds,
        handled: pacedHandled,
        unhandled: pacedUnhandled,
        lagP50Ms: percentile(pacedLags, 0.5),
        lagP99Ms: percentile(pacedLags, 0.99),
        lagMaxMs: percentile(pacedLags, 1),
        transactionsPerEvent: (afterPaced - idleEnd) / pacedHandled,
      },
    }
  } finally {
    if (!stopped) for (const child of children) await child.stop()
  }
}

const run = (setup: Setup, dataDir: string) => (setup.postgres ? withDatabase((url, transactions) => round(setup, dataDir, url, transactions)) : round(setup, dataDir, null, null))

const ms = (value: number) => (Number.isNaN(value) ? '-' : value < 10 ? value.toFixed(1) : value.toFixed(0))
const bound = (value: number) => (Number.isFinite(value) ? `≤ ${value}` : Number.isNaN(value) ? '-' : '> 300000')

export async function benchReplicas(): Promise<string> {
  const rounds = new Map<string, Round[]>(SETUPS.map((setup) => [setup.name, []]))
  for (let i = 0; i < ROUNDS; i++) {
    for (const setup of SETUPS) {
      const dataDir = mkdtempSync(join(tmpdir(), 'b24-bench-replicas-'))
      try {
        rounds.get(setup.name)?.push(await run(setup, dataDir))
      } finally {
        rmSync(dataDir, { recursive: true, force: true })
      }
    }
  }
  const of = (name: string) => rounds.get(name) as Round[]
  const med = (name: string, figure: (r: Round) => number) => median(of(name).map(figure))
  const rps = (r: Round) => r.requestsPerSecond
  const cpu = (r: Round) => r.cpuUsPerEvent
  const list = (name: string, figure: (r: Round) => number, digits = 0) => of(name).map((r) => figure(r).toFixed(digits)).join(', ')
  const summary = (setup: Setup) => {
    const name = setup.name
    const rs = of(name)
    const errors = rs.reduce((sum, r) => sum + r.errors, 0)
    const repeats = rs.reduce((sum, r) => sum + r.repeats, 0)
    const undrained = rs.filter((r) => Number.isNaN(r.drainSeconds)).length
    const unhandled = rs.reduce((sum, r) => sum + r.unhandled, 0)
    const lines = [
      `${name.padEnd(12)} ${med(name, rps).toFixed(0).padStart(6)} req/s  p50 ${med(name, (r) => r.p50Ms)} ms  p99 ${med(name, (r) => r.p99Ms)} ms  ` +
        `non-2xx ${rs.reduce((sum, r) => sum + r.non2xx, 0)}${errors > 0 ? `  errors ${errors}` : ''}  (rounds: ${list(name, rps)})`,
      `${''.padEnd(12)} CPU ${med(name, cpu).toFixed(0)} µs/handled event over load+drain (rounds: ${list(name, cpu)}), ${med(name, (r) => r.cpuUsPerRequest).toFixed(0)} µs/req during the load  ` +
        `handled ${med(name, (r) => r.handled)}  depth at load end ${med(name, (r) => r.depth)}  drain ${med(name, (r) => r.drainSeconds).toFixed(1)} s` +
        `${undrained > 0 ? `  NOT DRAINED in ${undrained} round(s)` : ''}${repeats > 0 ? `  handlers run again ${repeats}` : ''}${unhandled > 0 ? `  ANSWERED 200, NEVER HANDLED ${unhandled}` : ''}`,
      `${''.padEnd(12)} 200 → handler p50 ${ms(med(name, (r) => r.lagP50Ms))} ms  p99 ${ms(med(name, (r) => r.lagP99Ms))} ms  max ${ms(med(name, (r) => r.lagMaxMs))} ms  ` +
        `(p99 rounds: ${list(name, (r) => r.lagP99Ms)}; /metrics stored → attempt p50 ${bound(med(name, (r) => r.histogramP50Ms))} ms, p99 ${bound(med(name, (r) => r.histogramP99Ms))} ms)`,
    ]
    if (setup.postgres)
      lines.push(
        `${''.padEnd(12)} transactions/handled event ${med(name, (r) => r.transactionsPerEvent).toFixed(3)} (rounds: ${list(name, (r) => r.transactionsPerEvent, 3)}; ` +
          `before load → stopped, idle window and paced phase left out: ${med(name, (r) => r.transactionsPerEventToStop).toFixed(3)})  ` +
          `idle ${med(name, (r) => r.idleTransactionsPerSecond).toFixed(2)} transactions/s per replica (rounds: ${list(name, (r) => r.idleTransactionsPerSecond, 2)})`,
      )
    // The paced phase: every event sent answered 200 and handled, in every round?
    const ps = rs.map((r) => r.paced)
    const short = ps.filter((p) => p.handled < p.sent || p.non2xx > 0 || p.errors > 0 || p.unhandled > 0)
    const pacedUndrained = ps.filter((p) => Number.isNaN(p.drainSeconds)).length
    const pmed = (figure: (p: PacedRound) => number) => med(name, (r) => figure(r.paced))
    const plist = (figure: (p: PacedRound) => number, digits = 0) => list(name, (r) => figure(r.paced), digits)
    lines.push(
      `${''.padEnd(12)} paced ${PACED_RATE}/s × ${PACED_SECONDS} s: request p50 ${ms(pmed((p) => p.requestP50Ms))} ms  p99 ${ms(pmed((p) => p.requestP99Ms))} ms  ` +
        `200 → handler p50 ${ms(pmed((p) => p.lagP50Ms))} ms  p99 ${ms(pmed((p) => p.lagP99Ms))} ms  max ${ms(pmed((p) => p.lagMaxMs))} ms  ` +
        `(p99 rounds: ${plist((p) => p.lagP99Ms)}; max rounds: ${plist((p) => p.lagMaxMs)}; reported, no floor)`,
      `${''.padEnd(12)} paced: load ${pmed((p) => p.loadSeconds).toFixed(2)} s  depth at its end ${pmed((p) => p.depth)} (rounds: ${plist((p) => p.depth)})  drain ${pmed((p) => p.drainSeconds).toFixed(2)} s  ` +
        (short.length === 0
          ? `every event sent answered 200 and handled (${ps.map((p) => `${p.handled}/${p.sent}`).join(', ')})`
          : `NOT ALL HANDLED in ${short.length} round(s): handled/sent ${ps.map((p) => `${p.handled}/${p.sent}`).join(', ')}, non-2xx ${ps.reduce((s, p) => s + p.non2xx, 0)}, errors ${ps.reduce((s, p) => s + p.errors, 0)}, answered 200 never handled ${ps.reduce((s, p) => s + p.unhandled, 0)}`) +
        `${pacedUndrained > 0 ? `  NOT DRAINED in ${pacedUndrained} round(s)` : ''}` +
        (setup.postgres ? `  transactions/handled event ${pmed((p) => p.transactionsPerEvent).toFixed(3)} (rounds: ${plist((p) => p.transactionsPerEvent, 3)})` : ''),
    )
    return lines.join('\n')
  }
  const perRound = (name: string, figure: (r: Round) => number) => of(name).map((r, i) => (figure(r) / figure(of('sqlite')[i] as Round)).toFixed(2)).join(', ')
  return [
    `${ROUNDS} rounds of ${SECONDS} s (sqlite → sqlite+fsync → pg → pg×2): ${CONNECTIONS} concurrent senders in all (split between replicas), ` +
      `distinct 4.6 KB events round-robin over ${CHATS} chats, a handler with no REST call; pg: ${SETTLE_MS / 1000} s settles, ${IDLE_SECONDS} s idle window; ` +
      `then a paced phase of ${PACED_RATE} events/s for ${PACED_SECONDS} s (evenly in time, ${CONNECTIONS} sockets in all); medians`,
    ...SETUPS.map(summary),
    ...['pg', 'pg×2'].flatMap((name) => [
      verdict(`${name}: transactions per handled event`, med(name, (r) => r.transactionsPerEvent), '≤', 1),
      verdict(`${name}: idle transactions/s per replica`, med(name, (r) => r.idleTransactionsPerSecond), '≤', 2),
    ]),
    verdict('pg ÷ sqlite CPU per handled event', med('pg', cpu) / med('sqlite', cpu), '≤', 1.3) + `  (rounds: ${perRound('pg', cpu)})`,
    verdict('pg ÷ sqlite req/s (one replica)', med('pg', rps) / med('sqlite', rps), '≥', 0.6) + `  (rounds: ${perRound('pg', rps)})`,
    `two replicas ÷ sqlite req/s: ${(med('pg×2', rps) / med('sqlite', rps)).toFixed(3)}  (rounds: ${perRound('pg×2', rps)}; reported, no floor)`,
    `pg ÷ sqlite+fsync req/s: ${(med('pg', rps) / med('sqlite+fsync', rps)).toFixed(3)}  (both commit durably to disk before the 200; reported, no floor)`,
  ].join('\n')
}
