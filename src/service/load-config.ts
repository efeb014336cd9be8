import { resolve } from 'node:path'
import { EnvSchema, type Env } from '../../schemas/config.ts'
import type { AppOptions } from '../app/app-options.ts'
import { isSecureUrl } from '../app/secure-url.ts'
import { parseTokenList } from '../auth/token-set.ts'
import { parseHostList } from '../bitrix/portal-hosts.ts'
import { parseRestRate, type RestRate } from '../bitrix/rest-rate.ts'
import { ConfigError } from '../errors.ts'
import { parsePreviousKeys, parseSecretKey } from '../seal/secret-key.ts'
import type { ReceiverOptions } from '../receiver/receiver-options.ts'
import type { Durability } from '../store/sqlite/sqlite-store.ts'
import { compileDecoder } from '../wire/compile-decoder.ts'

/** What `b24-receiver serve` runs with, read from the environment once at start. */
export interface ServiceConfig {
  port: number
  host: string
  logLevel: Env['LOG_LEVEL']
  logPretty: boolean
  /**
   * `B24_APP_TOKENS` entries (`token` or `memberId:token`); empty means "a local token only", or
   * in application mode (`receiver.app`) "the tokens of the portals that installed the application".
   */
  appTokens: string[]
  /** Absolute path of `DATA_DIR` (the store, and the local token). */
  dataDir: string
  /** `DATABASE_URL`: the shared PostgreSQL store (replicas), or `null` for the embedded one under `DATA_DIR`. */
  databaseUrl: string | null
  /** `LEASE_TIMEOUT_MS`: how long a replica's claim on an event lasts unrenewed (the store's default when unset). */
  leaseTimeoutMs: number | undefined
  /** `INBOX_DURABILITY`: how far an event stored under `DATA_DIR` survives (the store's default when unset). */
  durability: Durability | undefined
  /** `DEDUP_WINDOW_MS`: how long a handled event's key recognises a double delivery (the store's default when unset). */
  dedupWindowMs: number | undefined
  /** `DLQ_RETENTION_DAYS`, in ms: how long a dead letter is kept after its last attempt (the store's default when unset). */
  deadLetterRetentionMs: number | undefined
  /** `EXAMPLE_BOT`: the example bot (src/example-bot.ts) answers messages and commands. */
  exampleBot: boolean
  /** `HTTP_*_TIMEOUT_MS`: how long a connection may take over its headers, its request, and idle between requests. */
  http: HttpTimeouts
  /** The receiver's options but its tokens, logger and store (`serviceStore`); unset variables are left to its defaults. */
  receiver: Omit<ReceiverOptions, 'tokens' | 'logger' | 'store' | 'dataDir'>
}

/** The HTTP server's limits on slow or idle connections, in ms. */
export interface HttpTimeouts {
  headersTimeoutMs: number
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
}

const decodeEnv = compileDecoder(EnvSchema)
const KEYS = Object.keys(EnvSchema.properties) as Array<keyof Env>

/**
 * Reads and validates the environment: unset or empty variables take their defaults
 * (schemas/config.ts, else the receiver's), `true`/`false`/`1`/`0` are booleans.
 * @throws {ConfigError} naming every variable with a bad value.
 */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): ServiceConfig {
  const given: Record<string, unknown> = {}
  for (const key of KEYS) {
    const value = env[key]?.trim()
    given[key] = value === undefined || value === '' ? (EnvSchema.properties[key] as { default?: unknown }).default : value
  }
  const decoded = decodeEnv(given)
  if (!decoded.ok) throw new ConfigError(`invalid environment: ${decoded.issues.map((issue) => `${issue.path.slice(1)} ${issue.message}`).join('; ')}`)
  const e = decoded.value
  const dataDir = resolve(cwd, e.DATA_DIR)
  // Node refuses a headers timeout past the request's: the request includes its headers.
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS')
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_PRETTY,
    appTokens: parseTokenList(e.B24_APP_TOKENS ?? ''),
    dataDir,
    databaseUrl: e.DATABASE_URL ?? null,
    leaseTimeoutMs: e.LEASE_TIMEOUT_MS,
    durability: e.INBOX_DURABILITY,
    dedupWindowMs: e.DEDUP_WINDOW_MS,
    deadLetterRetentionMs: e.DLQ_RETENTION_DAYS === undefined ? undefined : e.DLQ_RETENTION_DAYS * 86_400_000,
    exampleBot: e.EXAMPLE_BOT,
    http: { headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS, keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS },
    receiver: {
      secretKey: e.B24_SECRET_KEY === undefined ? undefined : parseSecretKey(e.B24_SECRET_KEY),
      previousSecretKeys: e.B24_SECRET_KEY_PREVIOUS === undefined ? undefined : parsePreviousKeys(e.B24_SECRET_KEY_PREVIOUS),
      bodyLimit: e.BODY_LIMIT,
      formLimits: { maxPairs: e.FORM_MAX_PAIRS, maxDepth: e.FORM_MAX_DEPTH },
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      eventsFile: e.EVENTS_FILE === undefined ? undefined : resolve(cwd, e.EVENTS_FILE),
      worker: {
        concurrency: e.WORKER_CONCURRENCY,
        handlerTimeoutMs: e.HANDLER_TIMEOUT_MS,
        maxAttempts: e.MAX_ATTEMPTS,
        retryBaseMs: e.RETRY_BASE_MS,
        retryMaxMs: e.RETRY_MAX_MS,
      },
      portalHosts: e.B24_PORTAL_HOSTS === undefined ? undefined : parseHostList(e.B24_PORTAL_HOSTS),
      rest: { url: e.B24_REST_URL, botId: e.B24_BOT_ID, botToken: e.B24_BOT_TOKEN, timeoutMs: e.B24_REST_TIMEOUT_MS, ...restRates(e), operatingLimitSeconds: e.B24_REST_OPERATING_LIMIT },
      app: appOptions(e),
      poll: e.B24_POLL && {
        mode: e.B24_POLL,
        withUserEvents: e.B24_POLL_WITH_USER_EVENTS,
        limit: e.B24_POLL_LIMIT,
        busyMs: e.B24_POLL_BUSY_MS,
        idleMs: e.B24_POLL_IDLE_MS,
      },
    },
  }
}

/** `B24_REST_RATE` as the receiver's `rest.rate` and `rest.portalRates`, both unset when it is. */
function restRates(e: Env): { rate: RestRate | undefined; portalRates: Record<string, RestRate> | undefined } {
  if (e.B24_REST_RATE === undefined) return { rate: undefined, portalRates: undefined }
  const { rate, portals } = parseRestRate(e.B24_REST_RATE, 'B24_REST_RATE')
  return { rate, portalRates: portals }
}

/**
 * Application mode (`B24_CLIENT_ID` with `B24_CLIENT_SECRET`), or `undefined` with neither.
 * `B24_OAUTH_URL` is checked even then: a bad value fails now, not once the mode is turned on.
 * @throws {ConfigError} for one credential without the other, or an OAuth URL that is not https.
 */
function appOptions(e: Env): AppOptions | undefined {
  // The URL could hold credentials (`https://user:pass@host`): the message says what is wrong, never what was given.
  if (e.B24_OAUTH_URL !== undefined && !isSecureUrl(e.B24_OAUTH_URL)) {
    throw new ConfigError('B24_OAUTH_URL must be an https URL with no credentials in it (http only on a loopback address): the client secret is sent there')
  }
  if (e.B24_CLIENT_ID === undefined && e.B24_CLIENT_SECRET === undefined) return undefined
  if (e.B24_CLIENT_ID === undefined || e.B24_CLIENT_SECRET === undefined) {
    throw new ConfigError(`application mode needs both B24_CLIENT_ID and B24_CLIENT_SECRET; ${e.B24_CLIENT_ID === undefined ? 'B24_CLIENT_ID' : 'B24_CLIENT_SECRET'} is not set`)
  }
  return {
    clientId: e.B24_CLIENT_ID,
    clientSecret: e.B24_CLIENT_SECRET,
    oauthUrl: e.B24_OAUTH_URL,
    oauthTimeoutMs: e.B24_OAUTH_TIMEOUT_MS,
    pendingPerPortal: e.B24_PENDING_PER_PORTAL,
    pendingInstalls: e.B24_PENDING_INSTALLS,
    pendingEvents: e.B24_PENDING_EVENTS,
    oauthConcurrency: e.B24_OAUTH_CONCURRENCY,
  }
}
