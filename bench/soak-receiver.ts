// The service for bench/soak.ts: as it ships (from the environment), with one handler for every
// event (`onAny`) that notes the post-to-handler time of the events whose text carries their send
// time (bench/soak-bodies.ts; the system's wall clock in ms, comparable across processes on one
// machine) and answers, through the portal the event came from, those that ask for a reply.
//
// It answers the benchmark's question over IPC (bench/serve-child.ts `ask`):
//   'sample' → SoakSample: its memory and event loop as they stand, and what its handlers saw
//              since the last sample (then started afresh).
// What it keeps between samples is bounded: the latencies of one sample, and the keys of the
// events handled in the last two samples (to tell a handler that ran twice for one event; the
// double deliveries come right after the first).
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { startServer } from '../src/service/start-server.ts'
import { announceServer } from './announce-server.ts'
import { percentile } from './percentile.ts'
import { sentAt } from './soak-bodies.ts'

/** What the 'sample' question answers. */
export interface SoakSample {
  rssMb: number
  heapUsedMb: number
  /** Event-loop delay p99 since the last sample, ms. */
  loopDelayP99Ms: number
  /** Handlers that ran since the last sample (one per event), and those that ran again for an event handled in this sample or the one before. */
  handled: number
  repeats: number
  /** Post-to-handler p99 of the timed events handled since the last sample, ms, and how many were timed. */
  p99Ms: number
  timed: number
  /** Those latencies, ms, each rounded to 0.1 ms: the benchmark's p99 over many samples. */
  latencies: number[]
  /** Replies the handlers sent, and those that failed (each an attempt the worker retries). */
  replies: number
  replyFailures: number
}

const MB = 1024 * 1024
const loop = monitorEventLoopDelay({ resolution: 10 })
loop.enable()
let latencies: number[] = []
let keys = new Set<string>()
let previousKeys = new Set<string>()
let handled = 0
let repeats = 0
let replies = 0
let replyFailures = 0

const server = await startServer(process.env, {
  setup: (receiver) =>
    receiver.onAny(async (event, ctx) => {
      const data = event.data as { message?: { id?: unknown; text?: unknown }; chat?: { id?: unknown }; user?: { id?: unknown }; bot?: { id?: unknown }; messageId?: unknown }
      const text = typeof data.message?.text === 'string' ? data.message.text : ''
      const sent = sentAt(text)
      if (sent !== null) latencies.push(performance.timeOrigin + performance.now() - sent)
      const key = `${event.type}:${String(data.message?.id ?? data.messageId)}:${String(data.chat?.id)}:${String(data.user?.id)}:${String(data.bot?.id)}:${text}`
      if (keys.has(key) || previousKeys.has(key)) repeats++
      else {
        keys.add(key)
        handled++
      }
      if (event.type === 'ONIMBOTV2MESSAGEADD' && text.endsWith(' reply')) {
        try {
          await ctx.reply(`answer to ${String(data.message?.id)}`)
          replies++
        } catch (error) {
          replyFailures++
          throw error
        }
      }
    }),
})

process.on('message', (question) => {
  if (question !== 'sample') return
  const memory = process.memoryUsage()
  const sample: SoakSample = {
    rssMb: memory.rss / MB,
    heapUsedMb: memory.heapUsed / MB,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    handled,
    repeats,
    p99Ms: percentile(latencies, 0.99),
    timed: latencies.length,
    latencies: latencies.map((ms) => Math.round(ms * 10) / 10),
    replies,
    replyFailures,
  }
  loop.reset()
  latencies = []
  previousKeys = keys
  keys = new Set()
  handled = repeats = replies = replyFailures = 0
  process.send?.(sample)
})

announceServer(server.url)
