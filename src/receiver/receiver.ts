import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Health, Readiness } from '../../schemas/health.ts'
import type { AcceptedReply, ErrorReply } from '../../schemas/reply.ts'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { APP_DEFAULTS, APP_LIMITS } from '../app/app-options.ts'
import { Application } from '../app/application.ts'
import { systemClock, type Clock } from '../app/clock.ts'
import { isSecureUrl } from '../app/secure-url.ts'
import { createTokenSet, type TokenSet } from '../auth/token-set.ts'
import { createRefusalLog, type RefusalLog } from '../auth/refusal-log.ts'
import { UnauthorizedError, verifyToken } from '../auth/verify-token.ts'
import { BitrixError } from '../bitrix/bitrix-error.ts'
import type { Bitrix, RestSettings } from '../bitrix/bitrix.ts'
import { BITRIX24_CLOUD_HOSTS } from '../bitrix/portal-hosts.ts'
import { systemLookup } from '../bitrix/portal-trust.ts'
import { webhookTarget } from '../bitrix/rest-target.ts'
import { BodyTooLargeError, ConfigError } from '../errors.ts'
import { mediaOf } from '../event/read-payload.ts'
import { scanWebhook } from '../event/scan-webhook.ts'
import type { Arrival } from '../door/arrival.ts'
import { createIngest, type Ingest } from '../door/ingest.ts'
import { createLogger } from '../log/create-logger.ts'
import { createReceiverMetrics, type ReceiverMetrics } from '../metrics/receiver-metrics.ts'
import { openPoller } from '../poll/open-poller.ts'
import type { Poller } from '../poll/poller.ts'
import { Router } from '../router/router.ts'
import { checkSealKey } from '../seal/check-seal-key.ts'
import { ensureKeyFile, KEY_FILE } from '../seal/key-file.ts'
import { loadSecretKey } from '../seal/load-secret-key.ts'
import { createSealer, type Sealer } from '../seal/sealer.ts'
import { parseSecretKey } from '../seal/secret-key.ts'
import { eventsFile } from '../sinks/events-file.ts'
import { logEvent } from '../sinks/log-event.ts'
import { newReplicaId } from '../replica.ts'
import { chosenStore } from '../store/chosen-store.ts'
import type { StoreFactory } from '../store/store-factory.ts'
import type { Store } from '../store/store.ts'
import { StoreUnavailableError } from '../store/store-unavailable-error.ts'
import { version } from '../version.ts'
import { Worker } from '../worker/worker.ts'
import { DEFAULT_FORM_LIMITS, type FormLimits } from '../wire/parse-form.ts'
import { createDispatch } from '../worker/create-dispatch.ts'
import type { Sink } from '../worker/steps/sinks.ts'
import { errorReply, type DoorReply } from './error-reply.ts'
import { RECEIVER_DEFAULTS, withDefaults, type ReceiverOptions } from './receiver-options.ts'

/** How often a key file that cannot be read or made yet is tried again (as the store is). */
const RETRY_MS = 5000

/** What the key check's retries wait on: a test sets its own clock here, to run them without waiting seconds (not in the package's API). */
export const keyCheck: { clock: Clock } = { clock: systemClock }

/** A webhook request as any HTTP server has it. */
export interface WebhookRequest {
  /** The raw body, as received. */
  body: string | Buffer
  /** The `Content-Type` header. */
  contentType: string | undefined
}

/**
 * Receives Bitrix24 events and hands them to its handlers: the router's `on`, `onAny`,
 * `onUnknown`, `onError` and `use`, plus the door ({@link handle}), the store, the worker and the
 * poller behind it. Made by {@link createReceiver}; mounted in Fastify by the `b24Receiver`
 * plugin, or in any server through {@link handle}.
 */
export class Receiver extends Router {
  /** The largest body {@link handle} takes, in bytes. */
  readonly bodyLimit: number
  readonly #options: ReceiverOptions
  readonly #logger: Logger
  readonly #refused: RefusalLog
  readonly #tokens: TokenSet
  readonly #rest: RestSettings
  readonly #sinks: Sink[]
  readonly #formLimits: FormLimits
  readonly #metrics: ReceiverMetrics
  readonly #storeFactory: StoreFactory
  /** This receiver's one name: its claims, its leases and `/health` say it. */
  readonly #replica = newReplicaId()
  #phase: 'idle' | 'running' | 'closing' = 'idle'
  #store: Store | null = null
  #ingest: Ingest | null = null
  #worker: Worker | null = null
  #poller: Poller | null = null
  #application: Application | null = null
  #startedAt = Date.now()
  #starting: Promise<void> | null = null
  #cancelRetry = (): void => {}
  #closing: Promise<void> | null = null

  /** @throws {ConfigError} for options that cannot work, naming the option. */
  constructor(options: ReceiverOptions) {
    const worker = withDefaults(RECEIVER_DEFAULTS.worker, options.worker)
    super({ handlerTimeoutMs: worker.handlerTimeoutMs })
    if (options.tokens.length === 0 && !options.app) throw new ConfigError('tokens: give at least one application token (B24_APP_TOKENS), or the app option (application mode)')
    if (options.app) checkApp(options.app)
    const { rest = {}, poll } = options
    this.#tokens = createTokenSet(options.tokens)
    this.#rest = {
      webhook: rest.url ? webhookTarget(rest.url) : null,
      botId: rest.botId ?? null,
      botToken: rest.botToken ?? null,
      timeoutMs: rest.timeoutMs ?? RECEIVER_DEFAULTS.restTimeoutMs,
      portals: { hosts: options.portalHosts ?? BITRIX24_CLOUD_HOSTS, pinnedDomains: this.#tokens.domains, lookup: options.lookupHost ?? systemLookup },
    }
    if (poll && !this.#rest.webhook) throw new ConfigError(`polling ${poll.mode} needs rest.url (B24_REST_URL), the inbound webhook to poll through`)
    // imbot.v2.Event.get: botId always, botToken with inbound-webhook auth (the method's doc page).
    if (poll?.mode === 'imbot' && (this.#rest.botId === null || this.#rest.botToken === null)) {
      throw new ConfigError('polling imbot needs rest.botId and rest.botToken (B24_BOT_ID and B24_BOT_TOKEN)')
    }
    this.#storeFactory = chosenStore(options)
    if (this.#storeFactory.keyDir === null && options.secretKey === undefined) {
      throw new ConfigError(`secretKey: a ${this.#storeFactory.kind} store keeps no key file: give the key that seals credentials in it (B24_SECRET_KEY), the same on every replica`)
    }
    if (typeof options.secretKey === 'string') parseSecretKey(options.secretKey, 'secretKey')
    this.#options = { ...options, worker }
    // Fastify's logger is pino (its type names fewer of pino's methods than handlers may use).
    this.#logger = (options.logger as Logger | undefined) ?? createLogger({ level: 'info' })
    this.#refused = createRefusalLog(this.#logger)
    this.bodyLimit = options.bodyLimit ?? RECEIVER_DEFAULTS.bodyLimit
    this.#formLimits = withDefaults(DEFAULT_FORM_LIMITS, options.formLimits)
    this.#sinks = [...(options.logEvents === false ? [] : [logEvent]), ...(options.eventsFile ? [eventsFile(options.eventsFile)] : [])]
    this.#metrics = createReceiverMetrics({
      stats: () => this.#store?.stats() ?? null,
      poller: () => this.#poller?.state() ?? null,
      inFlight: () => this.#worker?.stats().inFlight ?? 0,
    })
  }

  /**
   * Opens the store, the key that seals credentials, and starts the worker (and the poller); the
   * `b24Receiver` plugin calls it. A store that cannot be opened yet is tried again every few
   * seconds, events meanwhile refused with 503.
   * @throws {ConfigError} when the secret key cannot open what is stored (nothing is started).
   */
  start(): Promise<void> {
    if (this.#phase === 'idle') {
      this.#phase = 'running'
      this.#startedAt = Date.now()
      this.#starting = this.#start()
    }
    return this.#starting as Promise<void>
  }

  async #start(): Promise<void> {
    const options = this.#options
    const store = this.#storeFactory.open({ logger: this.#logger, replica: this.#replica })
    this.#store = store
    const missing = !options.app ? null : !store.portals ? 'portals' : !store.candidates ? 'candidates' : null
    if (missing) {
      await store.close()
      throw new ConfigError(`app: application mode keeps portals and the installs not confirmed yet in the store, and this store has no \`${missing}\``)
    }
    await this.#unseal(store)
  }

  // Reads the key and checks it against the store, then runs. A key file that cannot be read or
  // made yet shares the fate of an unusable DATA_DIR: tried again every few seconds, events
  // meanwhile refused with 503. A wrong key stops the start.
  async #unseal(store: Store): Promise<void> {
    let sealer
    try {
      // No key directory: the constructor made sure a key is given.
      const keyDir = this.#storeFactory.keyDir as string
      sealer = createSealer(await loadSecretKey(this.#options.secretKey, keyDir))
      // A given key that fails may be because the embedded store was sealed under its key file:
      // read only then, to say so.
      const keyFile = this.#storeFactory.keyDir === null ? null : resolve(keyDir, KEY_FILE)
      const given = this.#options.secretKey !== undefined
      const keyFileSealer = given && keyFile !== null && existsSync(keyFile) ? async () => createSealer((await ensureKeyFile(keyDir)).key) : undefined
      await checkSealKey(store, sealer, { given, keyFile: given && !keyFileSealer ? null : keyFile }, keyFileSealer)
    } catch (error) {
      if (error instanceof ConfigError) {
        await store.close()
        throw error
      }
      // A retry that was under way when the receiver closed starts nothing more.
      if (this.#phase === 'running') this.#cancelRetry = keyCheck.clock.setTimeout(() => void this.#unseal(store).catch((error: unknown) => this.#logger.error({ err: error }, 'cannot start')), RETRY_MS)
      return
    }
    if (this.#phase === 'running') this.#run(store, sealer)
  }

  #run(store: Store, sealer: Sealer): void {
    const options = this.#options
    const worker = options.worker as typeof RECEIVER_DEFAULTS.worker
    this.#ingest = createIngest(store, sealer, this.#metrics.ingest)
    if (options.app) {
      const portals = store.portals as NonNullable<Store['portals']>
      this.#application = new Application({
        options: options.app,
        portals,
        candidates: store.candidates as NonNullable<Store['candidates']>,
        meta: store.meta,
        deadLetters: store.deadLetters,
        sealer,
        logger: this.#logger,
        restTimeoutMs: this.#rest.timeoutMs,
        owner: this.#replica,
        tokens: this.#tokens,
      })
      this.#application.start().catch((error: unknown) => this.#logger.error({ err: error }, 'cannot read the pending installs'))
    }
    const dispatch = createDispatch({
      router: this,
      sinks: this.#sinks,
      logger: this.#logger,
      handlerTimeoutMs: worker.handlerTimeoutMs,
      rest: this.#rest,
      sealer,
      formLimits: this.#formLimits,
      seen: (key) => store.queue.seen(key),
      app: this.#application ?? undefined,
    })
    this.#worker = new Worker(store.queue, dispatch, this.#logger, { ...worker, observe: this.#metrics.worker })
    this.#worker.start()
    if (options.poll) {
      this.#poller = openPoller({ ...withDefaults(RECEIVER_DEFAULTS.poll, options.poll), mode: options.poll.mode }, this.#rest, this.#ingest, store, { logger: this.#logger, replica: this.#replica })
      this.#poller.start()
    }
  }

  /**
   * The webhook door, for any HTTP server. It does only what must come before the 200: checks the
   * content type (415) and the size (413), reads the event type and the token from the wire
   * (400 when it cannot), checks the token (401), and stores the wire with its credentials sealed
   * (503 when it cannot be stored). 200 means stored; decoding, validation and dedup follow in the
   * worker, which keeps what does not decode in the dead letter. Replies never echo the input.
   */
  async handle(request: WebhookRequest): Promise<DoorReply<AcceptedReply | ErrorReply>> {
    let portal: Arrival['portal'] | undefined
    try {
      const media = mediaOf(request.contentType)
      if (Buffer.byteLength(request.body) > this.bodyLimit) throw new BodyTooLargeError()
      const { credentials, ...wire } = scanWebhook(typeof request.body === 'string' ? request.body : request.body.toString('utf8'), media)
      portal = credentials.portal
      const arrival: Arrival = { source: 'webhook', portal: credentials.portal, credentials, ...wire }
      // In application mode the application checks the token and stores: an install is confirmed
      // with the OAuth server (or kept pending), another event passes with its portal's token, a
      // pending install's (stored under it), or a B24_APP_TOKENS entry.
      if (this.#options.app) {
        await this.#startedApp().receive(arrival, this.#started())
      } else {
        verifyToken(credentials, this.#tokens)
        await this.#started().accept(arrival)
      }
      return { status: 200, body: { ok: true } }
    } catch (error) {
      if (error instanceof UnauthorizedError && portal) this.#refused(portal, error.code)
      const reply = errorReply(error, this.#logger)
      this.#metrics.door.refused(reply.status)
      return reply
    }
  }

  /**
   * Calls a portal that installed the application, as the application, outside any handler (a
   * scheduled job): its stored tokens, refreshed when they expire. Application mode only.
   * @throws {ConfigError} when the receiver has no `app` option.
   */
  portal(memberId: string): Bitrix {
    if (!this.#options.app) throw new ConfigError('portal(): application mode is off (give the app option, or B24_CLIENT_ID and B24_CLIENT_SECRET)')
    return {
      call: <T>(method: string, params?: Record<string, unknown>) =>
        this.#application
          ? this.#application.portal(memberId).call<T>(method, params)
          : Promise.reject(new BitrixError(method, 'NOT_STARTED', null, 'the receiver is not started')),
    }
  }

  /**
   * For a server that refuses a webhook before {@link handle} sees it (Fastify past its body
   * limit): counts the refusal in the metrics as the door's answer.
   */
  countRefusal(status: number): void {
    this.#metrics.door.refused(status)
  }

  /** The receiver's metrics in Prometheus text format (README "Metrics"), served with {@link metricsContentType}. */
  metrics(): Promise<string> {
    return this.#metrics.registry.metrics()
  }

  /** The `Content-Type` of {@link metrics}: prom-client's, for the Prometheus text format. */
  get metricsContentType(): string {
    return this.#metrics.registry.contentType
  }

  /** This receiver's own prom-client registry (never the global one): merge it into yours, or add prom-client's default metrics to it. */
  get metricsRegistry(): Registry {
    return this.#metrics.registry
  }

  /** Whether events can be taken now, and why not: starting, closing, a store that cannot be written, a poller stopped for good. */
  ready(): Readiness {
    const store = this.#store
    const reason =
      this.#phase === 'idle' || !store
        ? 'starting'
        : this.#phase === 'closing'
          ? 'closing'
          : (store.unavailable() ?? (this.#ingest ? (this.#poller?.fatal ?? this.#application?.fatal ?? null) : 'starting'))
    return { ready: reason === null, reason }
  }

  /** What `/health` answers. */
  async health(): Promise<Health> {
    const { ready, reason } = this.ready()
    const { lastEventAt, accepted } = this.#ingest?.counts() ?? { accepted: 0, lastEventAt: null }
    const worker = this.#worker?.stats() ?? { inFlight: 0, failedAttempts: 0, duplicates: 0, rejected: 0 }
    // An unavailable store: /health says so by leaving its figures out.
    const inbox = (await this.#store?.stats().catch(() => null)) ?? null
    return {
      status: ready ? 'ok' : 'degraded',
      version,
      node: process.version,
      replica: this.#replica,
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      ready,
      reason,
      events: { accepted, duplicates: worker.duplicates, rejected: worker.rejected, failed: worker.failedAttempts, inFlight: worker.inFlight },
      lastEventAt,
      inbox,
      poller: this.#poller?.state() ?? null,
      app: (await this.#application?.health().catch(() => null)) ?? null,
    }
  }

  /**
   * The first step of {@link close}, for a server about to stop: `ready()` turns false (a load
   * balancer stops sending) and the poller stops; webhooks still in flight are still stored.
   */
  async beginClose(): Promise<void> {
    if (this.#phase !== 'running') return
    this.#phase = 'closing'
    this.#logger.info('closing: finishing requests and handlers in flight')
    await this.#poller?.stop()
  }

  /**
   * Stops: the poller, then the worker (handlers in flight get `shutdownTimeoutMs` to finish;
   * what does not finish stays stored for the next start), then the store. Idempotent.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#close())
  }

  async #close(): Promise<void> {
    if (this.#phase === 'idle') return
    // A start that failed closed its store already: nothing else runs.
    const started = await (this.#starting as Promise<void>).then(
      () => true,
      () => false,
    )
    await this.beginClose()
    this.#cancelRetry()
    this.#application?.stop()
    if (!started) return
    if (!this.#worker) return (this.#store as Store).close()
    const timeoutMs = this.#options.shutdownTimeoutMs ?? RECEIVER_DEFAULTS.shutdownTimeoutMs
    const drained = await (this.#worker as Worker).stop(timeoutMs)
    await (this.#store as Store).close()
    if (drained) this.#logger.info('closed')
    else this.#logger.warn({ timeoutMs }, 'closed with handlers still running: their events stay in the inbox for the next start')
  }

  #startedApp(): Application {
    this.#started()
    return this.#application as Application
  }

  #started(): Ingest {
    if (!this.#ingest) throw new StoreUnavailableError(this.#phase === 'idle' ? 'the receiver is not started' : (this.#store?.unavailable() ?? 'the receiver is starting'))
    return this.#ingest
  }
}

/** @throws {ConfigError} for application options that cannot work; never quotes the secret. */
function checkApp(app: NonNullable<ReceiverOptions['app']>): void {
  if (!app.clientId || !app.clientSecret) throw new ConfigError('app: give clientId and clientSecret (B24_CLIENT_ID and B24_CLIENT_SECRET)')
  if (!isSecureUrl(app.oauthUrl ?? APP_DEFAULTS.oauthUrl)) throw new ConfigError('app.oauthUrl (B24_OAUTH_URL) must be https, or http on a loopback address')
  for (const name of APP_LIMITS) {
    const value = app[name]
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new ConfigError(`app.${name} must be a whole number of at least 1`)
  }
}

/** Makes a receiver (see {@link ReceiverOptions}); it starts when mounted (or on `start()`). Never reads the environment. */
export const createReceiver = (options: ReceiverOptions): Receiver => new Receiver(options)
