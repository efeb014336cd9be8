import Type, { type Static } from 'typebox'

const Milliseconds = (defaultValue: number) => Type.Integer({ minimum: 0, default: defaultValue })

/** The environment of `b24-receiver serve`, every key in .env.example; defaults as noted. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  B24_APP_TOKENS: Type.String({ default: '' }),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  EVENTS_FILE: Type.String({ default: '' }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)), { default: 'info' }),
  LOG_PRETTY: Type.Boolean({ default: false }),
  BODY_LIMIT: Type.Integer({ minimum: 1024, default: 1048576 }),
  SHUTDOWN_TIMEOUT_MS: Milliseconds(10000),
  INBOX_DURABILITY: Type.Union([Type.Literal('process'), Type.Literal('power')], { default: 'process' }),
  DEDUP_WINDOW_MS: Milliseconds(86400000),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 1000, default: 8 }),
  HANDLER_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30000 }),
  MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: 8 }),
  RETRY_BASE_MS: Milliseconds(1000),
  RETRY_MAX_MS: Milliseconds(300000),
  B24_POLL: Type.Union([Type.Literal(''), Type.Literal('im'), Type.Literal('imbot')], { default: '' }),
  B24_REST_URL: Type.String({ default: '' }),
  B24_BOT_ID: Type.Union([Type.Integer({ minimum: 1 }), Type.Literal('')], { default: '' }),
  B24_BOT_TOKEN: Type.String({ default: '' }),
  B24_POLL_WITH_USER_EVENTS: Type.Boolean({ default: false }),
  B24_POLL_LIMIT: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  B24_POLL_BUSY_MS: Milliseconds(2000),
  B24_POLL_IDLE_MS: Milliseconds(10000),
  B24_REST_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30000 }),
  EXAMPLE_BOT: Type.Boolean({ default: false }),
})
export type Env = Static<typeof EnvSchema>
