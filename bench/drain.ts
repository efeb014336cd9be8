// How fast the worker empties an inbox, with a handler that does nothing: the most b24-receiver
// can hand over per second, the store's claim and outcome writes, decoding and the event log
// included. In this process, through the library: a receiver whose worker takes nothing
// (concurrency 0) fills the inbox through its door, then a new receiver on the same data directory,
// with the worker's defaults, is timed from `start()` until its handler has seen every event.
// One chat (handled one at a time, in order) and 100 chats (side by side), in alternating rounds.
//   npm run bench -- drain        BENCH_DRAIN_EVENTS (20000), BENCH_DRAIN_ROUNDS (3 of each)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createReceiver } from '../src/index.ts'
import { CAPTURED_CHAT, EVENT_TOKEN, eventBody } from './event-bodies.ts'
import { median } from './percentile.ts'

const EVENTS = Number(process.env.BENCH_DRAIN_EVENTS ?? 20000)
const ROUNDS = Number(process.env.BENCH_DRAIN_ROUNDS ?? 3)
const CHATS = [1, 100]
// A drain that makes no progress this long is stuck (or the service is broken): stop, say so.
const STALL_MS = 30_000

interface Rates {
  /** Events stored per second through `handle()`, one after another (not the measure; shown for scale). */
  fill: number
  /** Events handed to the handler per second. */
  drain: number
}

async function drainRound(chats: number): Promise<Rates> {
  const dataDir = mkdtempSync(join(tmpdir(), 'b24-bench-drain-'))
  // The service logs to stdout, a file or a collector: a file here, one line per handled event
  // as shipped, written asynchronously as the service's own destination is.
  const destination = pino.destination(join(dataDir, 'receiver.log'))
  const logger = pino(destination)
  try {
    const fill = createReceiver({ tokens: [EVENT_TOKEN], dataDir, worker: { concurrency: 0 }, logger })
    await fill.start() // a promise since the store and its seal key open asynchronously
    const fillStart = performance.now()
    for (let i = 0; i < EVENTS; i++) {
      const body = eventBody({ id: 4_000_000 + i, text: `сообщение номер ${i}`, chat: CAPTURED_CHAT + (i % chats) })
      const reply = await fill.handle({ body, contentType: 'application/x-www-form-urlencoded' })
      if (reply.status !== 200) throw new Error(`drain: filling the inbox, event ${i} answered ${reply.status} ${JSON.stringify(reply.body)}`)
    }
    const fillSeconds = (performance.now() - fillStart) / 1000
    await fill.close()

    const drain = createReceiver({ tokens: [EVENT_TOKEN], dataDir, logger })
    let count = 0
    drain.onAny(() => {
      count++
    })
    const start = performance.now()
    void drain.start()
    await until(() => count >= EVENTS, () => count)
    const seconds = (performance.now() - start) / 1000
    await drain.close()
    return { fill: EVENTS / fillSeconds, drain: EVENTS / seconds }
  } finally {
    destination.end() // after what is buffered is written
    rmSync(dataDir, { recursive: true, force: true })
  }
}

// Resolves once `done()` holds, checked every millisecond (a precision far below a drain of
// seconds, and no busy loop taking CPU from the worker); rejects when `progress()` stalls.
function until(done: () => boolean, progress: () => number): Promise<void> {
  return new Promise((resolve, reject) => {
    let last = progress()
    let lastChange = performance.now()
    const check = () => {
      if (done()) return resolve()
      const now = performance.now()
      if (progress() !== last) [last, lastChange] = [progress(), now]
      else if (now - lastChange > STALL_MS) return reject(new Error(`drain: stuck at ${last} of ${EVENTS} events for ${STALL_MS / 1000} s`))
      setTimeout(check, 1)
    }
    check()
  })
}

export async function benchDrain(): Promise<string> {
  const rounds = new Map<number, Rates[]>(CHATS.map((chats) => [chats, []]))
  for (let i = 0; i < ROUNDS; i++) for (const chats of CHATS) rounds.get(chats)?.push(await drainRound(chats))
  const line = (chats: number) => {
    const rs = rounds.get(chats) as Rates[]
    return (
      `${`${chats} chat${chats === 1 ? '' : 's'}`.padEnd(9)} ${median(rs.map((r) => r.drain)).toFixed(0).padStart(6)} events/s  ` +
      `(rounds: ${rs.map((r) => r.drain.toFixed(0)).join(', ')}; filled through handle() at ${median(rs.map((r) => r.fill)).toFixed(0)}/s)`
    )
  }
  return [`${ROUNDS} rounds of each, ${EVENTS} stored events drained by a no-op handler, worker defaults, event log to a file; medians`, ...CHATS.map(line)].join('\n')
}
