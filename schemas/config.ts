import Type, { type Static } from 'typebox'

// Settings of the receiver itself have no default here: unset, the receiver's own applies
// (src/receiver/receiver-options.ts), so each default is written once.
const Milliseconds = () => Type.Optional(Type.Integer({ minimum: 0 }))

/** The environment of `b24-receiver serve`, every key in .env.example; defaults as noted. */
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  B24_APP_TOKENS: Type.Optional(Type.String()),
  // Application mode: both or neither (src/service/load-config.ts). The secret has no pattern,
  // whose message would quote it.
  B24_CLIENT_ID: Type.Optional(Type.String()),
  B24_CLIENT_SECRET: Type.Optional(Type.String()),
  B24_OAUTH_URL: Type.Optional(Type.String()),
  B24_OAUTH_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 1 })),
  // Bounds on the installs the OAuth server has not confirmed yet, and on the calls made to it.
  B24_PENDING_PER_PORTAL: Type.Optional(Type.Integer({ minimum: 1 })),
  B24_PENDING_INSTALLS: Type.Optional(Type.Integer({ minimum: 1 })),
  B24_PENDING_EVENTS: Type.Optional(Type.Integer({ minimum: 1 })),
  B24_OAUTH_CONCURRENCY: Type.Optional(Type.Integer({ minimum: 1 })),
  DATA_DIR: Type.String({ minLength: 1, default: './data' }),
  B24_SECRET_KEY: Type.Optional(Type.String()),
  // During a key rotation: the old keys, comma-separated (src/seal/secret-key.ts); never quoted in a message.
  B24_SECRET_KEY_PREVIOUS: Type.Optional(Type.String()),
  // The URL holds a password: its pattern's message never quotes it.
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  LEASE_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 1000 })),
  EVENTS_FILE: Type.Optional(Type.String()),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)), { default: 'info' }),
  LOG_PRETTY: Type.Boolean({ default: false }),
  BODY_LIMIT: Type.Optional(Type.Integer({ minimum: 1024 })),
  FORM_MAX_PAIRS: Type.Optional(Type.Integer({ minimum: 1 })),
  FORM_MAX_DEPTH: Type.Optional(Type.Integer({ minimum: 1 })),
  SHUTDOWN_TIMEOUT_MS: Milliseconds(),
  // How long a connection may take to send its headers, its whole request, and sit idle between
  // requests: Bitrix24 posts a small body at once, so anything slower only holds a socket.
  HTTP_HEADERS_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 10000 }),
  HTTP_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30000 }),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 5000 }),
  INBOX_DURABILITY: Type.Optional(Type.Union([Type.Literal('process'), Type.Literal('power')])),
  DEDUP_WINDOW_MS: Milliseconds(),
  // Days a dead letter is kept after its last attempt (an uninstalled portal's row, after its uninstall); unset, the store's 30.
  DLQ_RETENTION_DAYS: Type.Optional(Type.Integer({ minimum: 1 })),
  WORKER_CONCURRENCY: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  HANDLER_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 1 })),
  MAX_ATTEMPTS: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  RETRY_BASE_MS: Milliseconds(),
  RETRY_MAX_MS: Milliseconds(),
  B24_POLL: Type.Optional(Type.Union([Type.Literal('im'), Type.Literal('imbot')])),
  B24_REST_URL: Type.Optional(Type.String()),
  // Host patterns ctx.bitrix may send an event's tokens to; unset, Bitrix24's cloud (src/bitrix/portal-hosts.ts).
  B24_PORTAL_HOSTS: Type.Optional(Type.String()),
  B24_BOT_ID: Type.Optional(Type.Integer({ minimum: 1 })),
  B24_BOT_TOKEN: Type.Optional(Type.String()),
  B24_POLL_WITH_USER_EVENTS: Type.Optional(Type.Boolean()),
  B24_POLL_LIMIT: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  B24_POLL_BUSY_MS: Milliseconds(),
  B24_POLL_IDLE_MS: Milliseconds(),
  B24_REST_TIMEOUT_MS: Type.Optional(Type.Integer({ minimum: 1 })),
  // The portals' REST bucket, DRAIN/THRESHOLD[,HOST=DRAIN/THRESHOLD…]: read by src/bitrix/rest-rate.ts.
  B24_REST_RATE: Type.Optional(Type.String()),
  B24_REST_OPERATING_LIMIT: Type.Optional(Type.Integer({ minimum: 1 })),
  EXAMPLE_BOT: Type.Boolean({ default: false }),
})
export type Env = Static<typeof EnvSchema>
