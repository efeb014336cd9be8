import type { FastifyPluginAsync } from 'fastify'
import Type from 'typebox'
import type { PipelineStats } from '../src/pipeline/pipeline.ts'
import type { PollerState } from '../src/poll/poller.ts'

/** Whether the service can take events now, and why not. */
export interface Readiness {
  ready: boolean
  reason: string | null
}

export interface HealthRouteOptions {
  version: string
  startedAt: number
  stats: () => PipelineStats
  readiness: () => Readiness
  poller: () => PollerState | null
}

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  version: Type.String(),
  node: Type.String(),
  uptimeSeconds: Type.Number(),
  ready: Type.Boolean(),
  reason: Type.Union([Type.String(), Type.Null()]),
  events: Type.Object({ accepted: Type.Integer(), duplicates: Type.Integer(), rejected: Type.Integer(), failed: Type.Integer(), inFlight: Type.Integer() }),
  lastEventAt: Type.Union([Type.String(), Type.Null()]),
  inbox: Type.Union([
    Type.Object({ depth: Type.Integer(), oldestPendingAgeMs: Type.Union([Type.Integer(), Type.Null()]), retrying: Type.Integer(), deadLetters: Type.Integer() }),
    Type.Null(),
  ]),
  poller: Type.Union([
    Type.Object({
      mode: Type.String(),
      state: Type.String(),
      offset: Type.Union([Type.Integer(), Type.Null()]),
      received: Type.Integer(),
      lastPollAt: Type.Union([Type.String(), Type.Null()]),
      lastError: Type.Union([Type.String(), Type.Null()]),
    }),
    Type.Null(),
  ]),
})
const ReadySchema = Type.Object({ ready: Type.Boolean(), reason: Type.Union([Type.String(), Type.Null()]) })

/** `GET /health` (cheap, always 200, a JSON status) and `GET /ready` (200, or 503 with a reason). */
export const healthRoute: FastifyPluginAsync<HealthRouteOptions> = async (app, { version, startedAt, stats, readiness, poller }) => {
  app.get('/health', { schema: { response: { 200: HealthSchema } } }, async () => {
    const { lastEventAt, inbox, ...events } = stats()
    const { ready, reason } = readiness()
    return {
      status: ready ? ('ok' as const) : ('degraded' as const),
      version,
      node: process.version,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      ready,
      reason,
      events,
      lastEventAt,
      inbox,
      poller: poller(),
    }
  })
  app.get('/ready', { schema: { response: { 200: ReadySchema, 503: ReadySchema } } }, async (_request, reply) => {
    const state = readiness()
    return reply.code(state.ready ? 200 : 503).send(state)
  })
}
