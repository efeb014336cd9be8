import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { healthRoute, type Readiness } from '../routes/health.ts'
import { webhookRoute } from '../routes/webhook.ts'
import type { TokenSet } from './auth/token-set.ts'
import type { Config } from './config/load-config.ts'
import { ReceiverError } from './errors.ts'
import type { Pipeline } from './pipeline/pipeline.ts'
import type { PollerState } from './poll/poller.ts'
import { version } from './version.ts'

export interface AppDeps {
  logger: Logger
  tokens: TokenSet
  pipeline: Pipeline
  /** Whether events can be accepted now; the server flips it while starting and closing. */
  readiness: () => Readiness
  /** The poller's state for `/health`, when there is one. */
  poller?: () => PollerState | null
}

// Fastify's own 4xx errors, under the stable codes of our replies.
const FASTIFY_CODES: Record<string, [string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['BODY_TOO_LARGE', 'the body is larger than the configured limit'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'send application/x-www-form-urlencoded or application/json'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['MALFORMED_BODY', 'the JSON body is empty'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['MALFORMED_BODY', 'the body length does not match Content-Length'],
}

/**
 * Builds the service's HTTP app: `POST /webhook`, `GET /health`, `GET /ready`. It never
 * listens (src/server.ts does); tests build their own with their own deps.
 */
export async function buildApp(config: Pick<Config, 'bodyLimit'>, deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: config.bodyLimit,
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && /^[\w.:-]{1,100}$/.test(given) ? given : randomUUID()
    },
  })

  // One line per request, after the reply: what came, what went, why it was refused, how long it took.
  const refusals = new WeakMap<object, string>()
  app.addHook('onResponse', async (request, reply) => {
    const line = { method: request.method, url: request.url, statusCode: reply.statusCode, error: refusals.get(request), ms: Math.round(reply.elapsedTime * 10) / 10 }
    request.log.info(line, 'request')
  })

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = error.code ? FASTIFY_CODES[error.code] : undefined
    const status = error instanceof ReceiverError || known ? (error.statusCode as number) : (error.statusCode ?? 500)
    if (status >= 500 && !(error instanceof ReceiverError)) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(status).send({ error: 'INTERNAL', message: 'internal error' })
    }
    const issues = 'issues' in error ? (error.issues as Array<{ path: string; message: string }>) : undefined
    const [code, message] = known ?? (error instanceof ReceiverError ? [error.code, error.message] : ['BAD_REQUEST', 'the request is not valid'])
    refusals.set(request, code)
    return reply.code(status).send({ error: code, message, ...(issues && { issues }) })
  })

  await app.register(webhookRoute, { tokens: deps.tokens, pipeline: deps.pipeline })
  await app.register(healthRoute, { version, startedAt: Date.now(), stats: () => deps.pipeline.stats(), readiness: deps.readiness, poller: deps.poller ?? (() => null) })
  return app
}
