import type { AddressInfo } from 'node:net'
import type { DestinationStream } from 'pino'
import type { Readiness } from '../routes/health.ts'
import { buildApp } from './app.ts'
import { ensureLocalToken } from './auth/local-token.ts'
import { createTokenSet } from './auth/token-set.ts'
import { loadConfig } from './config/load-config.ts'
import { registerHandlers } from './handlers/index.ts'
import { registerBuiltins } from './handlers/register-builtins.ts'
import { registerExampleBot } from './handlers/example-bot.ts'
import { openPoller } from './poll/open-poller.ts'
import { createLogger } from './log/create-logger.ts'
import { openPipeline } from './pipeline/open-pipeline.ts'
import { Router } from './router/router.ts'

export interface ServerOptions {
  /** Where log lines go; stdout by default. */
  destination?: DestinationStream
  /** Registers the user's handlers; src/handlers/index.ts by default. */
  register?: (router: Router) => void
}

/** A running service. */
export interface RunningServer {
  /** Where it listens, e.g. `http://127.0.0.1:3000`. */
  url: string
  /**
   * Stops gracefully: `/ready` turns 503, no new connection is accepted, requests in flight
   * complete, handlers get up to `SHUTDOWN_TIMEOUT_MS` to finish.
   */
  close(): Promise<void>
}

/**
 * Starts the service from environment variables: validates them, logs, listens. The only place
 * that reads the environment (the CLI passes `process.env`).
 * @throws {ConfigError} for a bad variable, before anything starts.
 */
export async function startServer(env: Record<string, string | undefined>, options: ServerOptions = {}): Promise<RunningServer> {
  const { destination, register = registerHandlers } = options
  const config = loadConfig(env)
  const logger = createLogger({ level: config.logLevel, pretty: config.logPretty }, destination)
  /** Why the service cannot take events whatever the inbox says: starting, closing, or nothing. */
  let phase: string | null = 'starting'

  let tokens = config.appTokens
  if (tokens.length === 0) {
    const local = await ensureLocalToken(config.dataDir)
    tokens = [local.token]
    logger.warn(
      { tokenFile: local.path },
      `B24_APP_TOKENS is not set: only the local token in ${local.path} is accepted (b24-receiver simulate uses it). ` +
        "Real Bitrix24 calls are refused until you set B24_APP_TOKENS to your portal's application token: " +
        'the Bitrix24 UI shows it for an outgoing webhook; an application receives it with ONAPPINSTALL.',
    )
  }

  const router = new Router({ handlerTimeoutMs: config.worker.handlerTimeoutMs })
  registerBuiltins(router, config)
  if (config.exampleBot) registerExampleBot(router)
  register(router)
  const pipeline = openPipeline(config, router, logger)
  const poller = openPoller(config, pipeline, logger)
  // Ready once listening, unless the inbox cannot be written or the poller stopped for good.
  const ready = (): Readiness => {
    const reason = phase ?? pipeline.unavailable() ?? poller?.fatal ?? null
    return { ready: reason === null, reason }
  }
  const app = await buildApp(config, { logger, tokens: createTokenSet(tokens), pipeline, readiness: ready, poller: () => poller?.state() ?? null })
  await app.listen({ port: config.port, host: config.host })
  poller?.start()
  phase = null
  const { address, family, port } = app.server.address() as AddressInfo
  const url = `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`
  logger.info({ url, tokens: tokens.length }, 'b24-receiver is listening: POST /webhook, GET /health, GET /ready')

  let closing: Promise<void> | undefined
  return {
    url,
    close: () =>
      (closing ??= (async () => {
        phase = 'closing'
        logger.info('closing: finishing requests and handlers in flight')
        await poller?.stop()
        await app.close()
        const drained = await pipeline.drain(config.shutdownTimeoutMs)
        pipeline.close()
        if (drained) logger.info('closed')
        else logger.warn({ timeoutMs: config.shutdownTimeoutMs }, 'closed with handlers still running: their events stay in the inbox for the next start')
        logger.flush()
      })()),
  }
}
