import { resolve } from 'node:path'
import { EnvSchema, type Env } from '../../schemas/config.ts'
import { compileDecoder } from '../wire/compile-decoder.ts'
import { ConfigError } from './config-error.ts'
import { parseTokenList } from '../auth/token-set.ts'
import type { RestSettings } from '../bitrix/bitrix.ts'
import { webhookTarget } from '../bitrix/rest-target.ts'

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
  /** REST calls: `B24_REST_URL`, `B24_BOT_ID`, `B24_BOT_TOKEN`, `B24_REST_TIMEOUT_MS`. */
  rest: RestSettings
  poll: {
    mode: 'im' | 'imbot' | null
    withUserEvents: boolean
    limit: number
    busyMs: number
    idleMs: number
  }
  /** `EXAMPLE_BOT`: the example bot of src/handlers/example-bot.ts answers messages and commands. */
  exampleBot: boolean
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
  const mode = e.B24_POLL === '' ? null : e.B24_POLL
  const rest: RestSettings = {
    webhook: e.B24_REST_URL === '' ? null : webhookTarget(e.B24_REST_URL),
    botId: e.B24_BOT_ID === '' ? null : e.B24_BOT_ID,
    botToken: e.B24_BOT_TOKEN === '' ? null : e.B24_BOT_TOKEN,
    timeoutMs: e.B24_REST_TIMEOUT_MS,
  }
  if (mode && !rest.webhook) throw new ConfigError(`B24_POLL=${mode} needs B24_REST_URL, the inbound webhook to poll through`)
  // imbot.v2.Event.get: botId always, botToken with inbound-webhook auth (the method's doc page).
  if (mode === 'imbot' && (rest.botId === null || rest.botToken === null)) throw new ConfigError('B24_POLL=imbot needs B24_BOT_ID and B24_BOT_TOKEN')
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
    rest,
    poll: {
      mode,
      withUserEvents: e.B24_POLL_WITH_USER_EVENTS,
      limit: e.B24_POLL_LIMIT,
      busyMs: e.B24_POLL_BUSY_MS,
      idleMs: e.B24_POLL_IDLE_MS,
    },
    exampleBot: e.EXAMPLE_BOT,
  }
}
