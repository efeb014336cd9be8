import { resolve } from 'node:path'
import { EnvSchema, type Env } from '../../schemas/config.ts'
import { compileDecoder } from '../wire/compile-decoder.ts'
import { ConfigError } from './config-error.ts'
import { parseTokenList } from '../auth/token-set.ts'

/** What the service runs with, read from the environment once at start. */
export interface Config {
  port: number
  host: string
  /** `B24_APP_TOKENS` entries (`token` or `memberId:token`); empty means "a local token only". */
  appTokens: string[]
  /** Absolute path of `DATA_DIR`. */
  dataDir: string
  /** Absolute path of `EVENTS_FILE`, or `null`. */
  eventsFile: string | null
  logLevel: Env['LOG_LEVEL']
  logPretty: boolean
  bodyLimit: number
  shutdownTimeoutMs: number
  inbox: {
    durability: 'process' | 'power'
    dedupWindowMs: number
  }
  worker: {
    concurrency: number
    handlerTimeoutMs: number
    maxAttempts: number
    retryBaseMs: number
    retryMaxMs: number
  }
  poll: {
    mode: 'im' | 'imbot' | null
    restUrl: string | null
    botId: number | null
    botToken: string | null
    withUserEvents: boolean
    limit: number
    busyMs: number
    idleMs: number
  }
}

const decodeEnv = compileDecoder(EnvSchema)
const KEYS = Object.keys(EnvSchema.properties) as Array<keyof Env>

/**
 * Reads and validates the environment: unset or empty variables take their defaults
 * (schemas/config.ts), `true`/`false`/`1`/`0` are booleans.
 * @throws {ConfigError} naming every variable with a bad value.
 */
export function loadConfig(env: Record<string, string | undefined>, cwd = process.cwd()): Config {
  const given: Record<string, unknown> = {}
  for (const key of KEYS) {
    const value = env[key]?.trim()
    given[key] = value === undefined || value === '' ? (EnvSchema.properties[key] as unknown as { default: unknown }).default : value
  }
  const decoded = decodeEnv(given)
  if (!decoded.ok) throw new ConfigError(`invalid environment: ${decoded.issues.map((issue) => `${issue.path.slice(1)} ${issue.message}`).join('; ')}`)
  const e = decoded.value
  const optional = (value: string) => (value === '' ? null : value)
  return {
    port: e.PORT,
    host: e.HOST,
    appTokens: parseTokenList(e.B24_APP_TOKENS),
    dataDir: resolve(cwd, e.DATA_DIR),
    eventsFile: e.EVENTS_FILE === '' ? null : resolve(cwd, e.EVENTS_FILE),
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_PRETTY,
    bodyLimit: e.BODY_LIMIT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    inbox: { durability: e.INBOX_DURABILITY, dedupWindowMs: e.DEDUP_WINDOW_MS },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      handlerTimeoutMs: e.HANDLER_TIMEOUT_MS,
      maxAttempts: e.MAX_ATTEMPTS,
      retryBaseMs: e.RETRY_BASE_MS,
      retryMaxMs: e.RETRY_MAX_MS,
    },
    poll: {
      mode: e.B24_POLL === '' ? null : e.B24_POLL,
      restUrl: optional(e.B24_REST_URL),
      botId: e.B24_BOT_ID === '' ? null : e.B24_BOT_ID,
      botToken: optional(e.B24_BOT_TOKEN),
      withUserEvents: e.B24_POLL_WITH_USER_EVENTS,
      limit: e.B24_POLL_LIMIT,
      busyMs: e.B24_POLL_BUSY_MS,
      idleMs: e.B24_POLL_IDLE_MS,
    },
  }
}
