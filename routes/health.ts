import type { FastifyPluginAsync } from 'fastify'
import { HealthSchema, ReadinessSchema } from '../schemas/health.ts'
import type { Receiver } from '../src/receiver/receiver.ts'

export interface HealthRouteOptions {
  receiver: Receiver
}

/** `GET /health` (cheap, always 200, a JSON status) and `GET /ready` (200, or 503 with a reason). */
export const healthRoute: FastifyPluginAsync<HealthRouteOptions> = async (app, { receiver }) => {
  app.get('/health', { schema: { response: { 200: HealthSchema } } }, () => receiver.health())
  app.get('/ready', { schema: { response: { 200: ReadinessSchema, 503: ReadinessSchema } } }, async (_request, reply) => {
    const state = receiver.ready()
    return reply.code(state.ready ? 200 : 503).send(state)
  })
}
