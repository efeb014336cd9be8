import type { FastifyPluginAsync } from 'fastify'
import Type from 'typebox'
import type { Receiver } from '../src/receiver/receiver.ts'

export interface MetricsRouteOptions {
  receiver: Receiver
}

/** `GET /metrics`: the receiver's metrics in Prometheus text format, with prom-client's content type. */
export const metricsRoute: FastifyPluginAsync<MetricsRouteOptions> = async (app, { receiver }) => {
  app.get('/metrics', { schema: { response: { 200: Type.String() } } }, async (_request, reply) => reply.type(receiver.metricsContentType).send(await receiver.metrics()))
}
