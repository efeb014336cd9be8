// The service for bench/replicas.ts: as it ships (from the environment), plus one handler that
// makes no REST call and notes when it started, and a note of when the door answered each
// webhook with 200 (the event then committed in the inbox). The benchmark names each request
// by its message id in `x-request-id` (which the service keeps as the request id), so that an
// answer and a handler are matched by id: across replicas too, the door of one and the handler
// of another. Both times are the system's wall clock in ms with a fraction
// (`performance.timeOrigin + performance.now()`), comparable across processes on one machine.
//
// It answers the benchmark's questions over IPC (bench/serve-child.ts `ask`):
//   'handled' → { answered, handled, repeats }: webhooks answered 200 here, distinct events whose
//               handler started here, and handlers that ran again for an event already handled
//               here (at least once);
//   'report'  → LagReport: every answer and handler start, and the service's own histogram of
//               the same lag (`b24_post_to_handler_seconds`, stored → first attempt) as it stands.
// What it records costs a map entry per request and per event: the same in every setup.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Histogram } from 'prom-client'
import { startServer } from '../src/service/start-server.ts'
import { announceServer } from './announce-server.ts'

/** What the 'handled' question answers. */
export interface HandledCount {
  answered: number
  handled: number
  repeats: number
}

/** What the 'report' question answers. */
export interface LagReport extends HandledCount {
  /** Message ids answered 200 by this replica's door, and when (ms, wall clock). */
  answeredIds: number[]
  answeredAt: number[]
  /** Message ids whose handler first started on this replica, and when. */
  startedIds: number[]
  startedAt: number[]
  /** `b24_post_to_handler_seconds{door="webhook"}` buckets, cumulative counts by upper bound (s, `+Inf` last); null when the service has no such metric. */
  histogram: Array<{ le: string; count: number }> | null
}

const now = () => performance.timeOrigin + performance.now()
const answered = new Map<number, number>()
const started = new Map<number, number>()
let repeats = 0

const server = await startServer(process.env, {
  setup: (receiver) =>
    receiver.on('ONIMBOTV2MESSAGEADD', (event) => {
      const at = now()
      const id = Number(event.data.message.id)
      if (started.has(id)) repeats++
      else started.set(id, at)
    }),
})

// After Fastify's own listener: the body is read asynchronously, so the answer cannot be written
// before this runs. 'finish': the 200 handed to the socket.
server.app.server.on('request', (request: IncomingMessage, response: ServerResponse) => {
  const id = Number(request.headers['x-request-id'])
  if (request.method !== 'POST' || !Number.isSafeInteger(id)) return
  response.once('finish', () => {
    if (response.statusCode === 200) answered.set(id, now())
  })
})

async function histogram(): Promise<LagReport['histogram']> {
  const metric = server.receiver.metricsRegistry.getSingleMetric('b24_post_to_handler_seconds') as Histogram | undefined
  if (metric === undefined) return null
  const { values } = await metric.get()
  return values
    .filter((v) => v.metricName === 'b24_post_to_handler_seconds_bucket' && v.labels.door === 'webhook')
    .map((v) => ({ le: String(v.labels.le), count: v.value }))
    .sort((a, b) => Number(a.le.replace('+Inf', 'Infinity')) - Number(b.le.replace('+Inf', 'Infinity')))
}

process.on('message', (question) => {
  const count: HandledCount = { answered: answered.size, handled: started.size, repeats }
  if (question === 'handled') process.send?.(count)
  else if (question === 'report')
    void histogram().then((buckets) => {
      const report: LagReport = { ...count, answeredIds: [...answered.keys()], answeredAt: [...answered.values()], startedIds: [...started.keys()], startedAt: [...started.values()], histogram: buckets }
      process.send?.(report)
    })
})

announceServer(server.url)
