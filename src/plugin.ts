import type { FastifyPluginAsync } from 'fastify'
import { healthRoute } from '../routes/health.ts'
import { metricsRoute } from '../routes/metrics.ts'
import { webhookRoute } from '../routes/webhook.ts'
import type { Receiver } from './receiver/receiver.ts'

export interface B24ReceiverPluginOptions {
  receiver: Receiver
  /** Where Bitrix24 posts events; `/webhook`. */
  path?: string
  /** Also serve `GET /health` and `GET /ready`; off by default (your app may have its own). */
  health?: boolean
  /**
   * Also serve `GET /metrics` (Prometheus text format, README "Metrics"); defaults to `health`.
   * Without the route, `receiver.metrics()` gives the same text.
   */
  metrics?: boolean
}

/**
 * Mounts a receiver in a Fastify app: `POST path` (its own body parsing and error replies, kept
 * inside this plugin), optionally `/health` and `/ready`, and `/metrics`. It starts the receiver;
 * when the app closes, the receiver stops taking work first (`/ready` 503) and closes after the
 * requests in flight are answered.
 */
export const b24Receiver: FastifyPluginAsync<B24ReceiverPluginOptions> = async (app, { receiver, path = '/webhook', health = false, metrics = health }) => {
  await app.register(webhookRoute, { receiver, path })
  if (health) await app.register(healthRoute, { receiver })
  if (metrics) await app.register(metricsRoute, { receiver })
  app.addHook('preClose', async () => receiver.beginClose())
  app.addHook('onClose', async () => receiver.close())
  await receiver.start()
}
