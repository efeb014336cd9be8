import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import { ensureLocalToken } from '../auth/local-token.ts'
import { exampleBot } from '../example-bot.ts'
import { createLogger } from '../log/create-logger.ts'
import { b24Receiver } from '../plugin.ts'
import { createReceiver, type Receiver } from '../receiver/receiver.ts'
import { ConfigError } from '../errors.ts'
import { inServiceWords } from '../seal/check-seal-key.ts'
import { loadConfig } from './load-config.ts'
import { unknownSettings } from './unknown-settings.ts'
import { checkReplicaConfig } from './check-replica-config.ts'
import { serviceStore } from './service-store.ts'

export interface ServerOptions {
  /** Where log lines go; stdout by default. */
  destination?: DestinationStream
  /** Adds handlers to the receiver before it starts (tests; the service itself has none of its own). */
  setup?: (receiver: Receiver) => void
}

/** A running service. */
export interface RunningServer {
  /** Where it listens, e.g. `http://127.0.0.1:3000`. */
  url: string
  app: FastifyInstance
  receiver: Receiver
  /**
   * Stops gracefully: `/ready` turns 503, no new connection is accepted, requests in flight
   * complete, handlers get up to `SHUTDOWN_TIMEOUT_MS` to finish.
   */
  close(): Promise<void>
}

/**
 * `b24-receiver serve`: environment → validated config → receiver → Fastify with the
 * `b24Receiver` plugin and its health routes → listen. The only place that reads the
 * environment (the CLI passes `process.env`).
 * @throws {ConfigError} for a bad variable, before anything starts.
 */
export async function startServer(env: Record<string, string | undefined>, options: ServerOptions = {}): Promise<RunningServer> {
  const config = loadConfig(env)
  checkReplicaConfig(config)
  const logger = createLogger({ level: config.logLevel, pretty: config.logPretty }, options.destination)
  // Never the value: a misspelled B24_APP_TOKENS holds a token.
  for (const { name, likely } of unknownSettings(env)) {
    logger.warn({ variable: name, likely }, `${name} is not a setting of b24-receiver and is ignored${likely ? `: did you mean ${likely}?` : ''}`)
  }
  let tokens = config.appTokens
  if (tokens.length === 0 && config.receiver.app !== undefined) {
    // No local token: each portal's own application token, stored at install, proves its events; a
    // token accepted from any portal would only weaken that (and would differ per replica).
    logger.info('application mode without B24_APP_TOKENS: events are accepted from the portals that installed the application, with the application token each one was given')
  } else if (tokens.length === 0) {
    const local = await ensureLocalToken(config.dataDir).catch((error: NodeJS.ErrnoException) => {
      throw new ConfigError(`B24_APP_TOKENS is not set and no local token can be kept in DATA_DIR ${config.dataDir} (${error.code}): make it writable for this user, or set B24_APP_TOKENS`)
    })
    tokens = [local.token]
    logger.warn(
      { tokenFile: local.path },
      `B24_APP_TOKENS is not set: only the local token in ${local.path} is accepted (b24-receiver simulate uses it). ` +
        "Real Bitrix24 calls are refused until you set B24_APP_TOKENS to your portal's application token: " +
        'the Bitrix24 UI shows it for an outgoing webhook; an application receives it with ONAPPINSTALL.',
    )
  }
  const receiver = createReceiver({ ...config.receiver, tokens, logger, store: serviceStore(config) })
  if (config.exampleBot) receiver.use(exampleBot())
  options.setup?.(receiver)

  const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs } = config.http
  const app = Fastify({
    // A webhook sender posts a small body at once: a connection slower than these only holds a
    // socket (Node's defaults: 60 s for headers, 300 s for a request, which Fastify turns off).
    // Node checks them on an interval (30 s by default): checked often enough to keep them.
    http: { headersTimeout: headersTimeoutMs, connectionsCheckingInterval: Math.min(1000, headersTimeoutMs) },
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // While closing, /ready must say so itself (503, reason `closing`), and requests already on a
    // connection are still answered by the receiver.
    return503OnClosing: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && /^[\w.:-]{1,100}$/.test(given) ? given : randomUUID()
    },
  })
  try {
    await app.register(b24Receiver, { receiver, path: '/webhook', health: true })
  } catch (error) {
    throw inServiceWords(error)
  }
  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (error) {
    await app.close()
    throw listenError(error, config.host, config.port)
  }
  const { address, family, port } = app.server.address() as AddressInfo
  const url = `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`
  logger.info({ url, tokens: tokens.length }, 'b24-receiver is listening: POST /webhook, GET /health, GET /ready, GET /metrics')

  let closing: Promise<void> | undefined
  return {
    url,
    app,
    receiver,
    close: () =>
      (closing ??= (async () => {
        await app.close()
        logger.flush()
      })()),
  }
}

// What an operator can act on, in one line: the usual reasons a port cannot be had.
const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: 'another process is listening there: stop it, or set PORT',
  EACCES: 'this user may not listen there (ports below 1024 need privileges): set PORT',
}

function listenError(error: unknown, host: string, port: number): ConfigError {
  const { code, message } = error as NodeJS.ErrnoException
  return new ConfigError(`cannot listen on ${host}:${port}: ${LISTEN_REASONS[String(code)] ?? message}`)
}
