import type { FastifyBaseLogger } from 'fastify'
import type { Logger } from 'pino'
import type { AppOptions } from '../app/app-options.ts'
import type { Clock } from '../clock.ts'
import type { RestRate } from '../bitrix/rest-rate.ts'
import type { PollSettings } from '../poll/open-poller.ts'
import type { StoreFactory } from '../store/store-factory.ts'
import type { Store } from '../store/store.ts'
import type { FormLimits } from '../wire/parse-form.ts'

/** What {@link createReceiver} takes. Only `tokens` is required; the defaults are those of `b24-receiver serve`. */
export interface ReceiverOptions {
  /**
   * Accepted application tokens (`auth[application_token]`): `token` from any portal,
   * `memberId:token` from that portal only (`auth[member_id]`), `memberId@domain:token` from
   * that portal at that domain only (`auth[domain]`; `ctx.bitrix` may call it). Compared in constant time. With `app`, the tokens of
   * the portals that installed the application are accepted too, and this may be empty.
   */
  tokens: readonly string[]
  /**
   * Application mode: a Bitrix24 application installed on many portals. `ONAPPINSTALL` is
   * confirmed with the OAuth server, each portal's tokens are stored sealed and refreshed, and
   * `ctx.bitrix` / `receiver.portal(memberId)` call a portal as the application (README "Applications").
   */
  app?: AppOptions
  /**
   * Where the embedded SQLite store keeps `inbox.db` (and `secret.key`); `./data`. Short for
   * `store: sqliteStore({ dataDir })`: giving both is refused (`ConfigError`).
   */
  dataDir?: string
  /**
   * Where events wait for the handlers, chosen here and opened at `start()`: `sqliteStore({ dataDir,
   * durability, dedupWindowMs, deadLetterRetentionMs })` (the default: one process) or
   * `postgresStore({ connectionString, … })` (replicas: each needs the same `secretKey` and `tokens`).
   * The store keeps the retention: a dead letter is dropped `deadLetterRetentionMs` (30 days,
   * `DLQ_RETENTION_DAYS`) after its last attempt, an uninstalled portal's row (application mode)
   * as long after its uninstall once nothing stored refers to it; checked every minute, one log
   * line per purge that dropped something. A `Store` object of your own is taken as it is,
   * opened already (it keeps its own retention, if any); it needs `secretKey`.
   */
  store?: StoreFactory | Store
  /**
   * The key that seals the credentials stored with each event (AES-256-GCM): 32 bytes, or 64 hex
   * digits or base64 of 32 bytes (`B24_SECRET_KEY`). By default a key generated on first start in
   * `dataDir/secret.key` (mode 0600). A key that cannot open what is stored stops `start()`.
   */
  secretKey?: string | Buffer
  /**
   * During a key rotation, the old key(s) (`B24_SECRET_KEY_PREVIOUS`), each as `secretKey` takes
   * one: what they sealed is opened, nothing is sealed with them. The store may be sealed under one
   * of them until `b24-receiver keys rotate` has sealed it again under `secretKey`; then they may go.
   */
  previousSecretKeys?: ReadonlyArray<string | Buffer>
  /**
   * A pino logger, or your Fastify app's own (`app.log`, pino too) for one log stream; by default
   * JSON lines on stdout at `info`, tokens redacted.
   */
  logger?: Logger | FastifyBaseLogger
  /** The largest body accepted, in bytes; 1 MiB. */
  bodyLimit?: number
  /**
   * Bounds on the work one form body may cause: pairs (50 000), bracket depth (64), key length
   * (1024). They do not judge events: an authenticated body past them is kept in the dead letter,
   * to replay once they are raised.
   */
  formLimits?: Partial<FormLimits>
  worker?: {
    /** Events handled at once (one at a time per chat); 32. */
    concurrency?: number
    /** A handler running longer counts as failed; 30 s. */
    handlerTimeoutMs?: number
    /** Attempts before the dead letter; 8. */
    maxAttempts?: number
    /** Retry backoff, exponential with jitter, from `retryBaseMs` (1 s) up to `retryMaxMs` (5 min). */
    retryBaseMs?: number
    retryMaxMs?: number
  }
  /** How long `close()` waits for handlers in flight; 10 s. */
  shutdownTimeoutMs?: number
  /**
   * What the start's retries (a key file not readable yet: again every 5 s) and, unless
   * `app.clock` says otherwise, application mode's confirmations are timed by; the system's clock.
   */
  clock?: Clock
  /** REST calls through an inbound webhook, for `ctx.bitrix` without event tokens and for polling. */
  rest?: {
    /** `https://PORTAL/rest/USER_ID/SECRET/` */
    url?: string
    botId?: number
    botToken?: string
    /** How long one REST call may take; 30 s. */
    timeoutMs?: number
    /**
     * The portals' REST bucket as Bitrix24 counts it (`B24_REST_RATE`): calls drained a second and
     * calls before it refuses; `{ drainPerSecond: 2, threshold: 50 }` (Enterprise: 5 and 250).
     * Every `ctx.bitrix` call waits for room in its portal's bucket (the replicas of a PostgreSQL
     * store share one), and a call the portal refused for its limits waits and is sent again.
     */
    rate?: RestRate
    /** Portals on another plan (application mode), by host: `{ 'big.bitrix24.com': { drainPerSecond: 5, threshold: 250 } }`. */
    portalRates?: Record<string, RestRate>
    /**
     * A method's operating time Bitrix24 allows per 10 minutes, in seconds (`B24_REST_OPERATING_LIMIT`);
     * 480. Past 80% of it, the method's calls are spaced out until the portal's reset.
     */
    operatingLimitSeconds?: number
  }
  /**
   * Host patterns `ctx.bitrix` may send an event's own tokens to (`B24_PORTAL_HOSTS`):
   * `*.example.com` any host under it, else a host exactly (`portal.example.com`, `127.0.0.1`).
   * Given, it replaces the default, Bitrix24's cloud (`BITRIX24_CLOUD_HOSTS`: spread it in to
   * keep it). An event's REST endpoint is used only when it is `https://DOMAIN/rest/` for the
   * event's own domain and that domain is trusted: matched here, pinned in `tokens`
   * (`memberId@domain:token`), or confirmed by `app.info` (`app`). A host that resolves to a
   * loopback, private or link-local address only when matched here (plain `http` too, on this
   * machine only: a test's stand-in portal).
   */
  portalHosts?: readonly string[]
  /** How that check resolves a host name to its addresses; the system resolver (`dns.lookup`) by default. */
  lookupHost?: (hostname: string) => Promise<string[]>
  /** Poll Bitrix24 for events (needs `rest.url`; `imbot` also `rest.botId` and `rest.botToken`). */
  poll?: Partial<PollSettings> & Pick<PollSettings, 'mode'>
  /** Append one JSON line per handled event to this file (once per event, across retries and restarts). */
  eventsFile?: string
  /** Log one line per handled event (type, portal, chat, message id); `true`. */
  logEvents?: boolean
}

/** The defaults of {@link ReceiverOptions}. */
export const RECEIVER_DEFAULTS = {
  bodyLimit: 1048576,
  worker: { concurrency: 32, handlerTimeoutMs: 30000, maxAttempts: 8, retryBaseMs: 1000, retryMaxMs: 300000 },
  shutdownTimeoutMs: 10000,
  restTimeoutMs: 30000,
  poll: { withUserEvents: false, limit: 100, busyMs: 2000, idleMs: 10000 },
}

/** `given` over `defaults`, where an `undefined` in `given` (an unset variable) keeps the default. */
export function withDefaults<T extends object>(defaults: T, given: { [K in keyof T]?: T[K] | undefined } | undefined): T {
  const merged = { ...defaults }
  for (const key of Object.keys(given ?? {}) as Array<keyof T>) {
    const value = (given as T)[key]
    if (value !== undefined) merged[key] = value
  }
  return merged
}
