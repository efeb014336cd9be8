import type { Registry } from 'prom-client'
import type { ChatEventOf, GenericEvent } from '../../schemas/chat-event.ts'
import type { ChatEventType } from '../../schemas/event-data.ts'
import type { Health, Readiness } from '../../schemas/health.ts'
import type { Application } from '../app/application.ts'
import { createRefusalLog } from '../auth/refusal-log.ts'
import { BitrixError } from '../bitrix/bitrix-error.ts'
import type { Bitrix } from '../bitrix/bitrix.ts'
import { Pacer } from '../bitrix/pacer.ts'
import { tokenVerifier, type Verifier } from '../door/verifier.ts'
import { webhookDoor, type WebhookDoor, type WebhookRequest } from '../door/webhook-door.ts'
import { ConfigError } from '../errors.ts'
import type { NormalizedEvent } from '../event/decoded-event.ts'
import { createReceiverMetrics, type ReceiverMetrics } from '../metrics/receiver-metrics.ts'
import { newReplicaId } from '../replica.ts'
import { Router, type ErrorHandler, type Handler } from '../router/router.ts'
import { Lifecycle } from './lifecycle.ts'
import { receiverHealth, type ReceiverHealth } from './receiver-health.ts'
import type { ReceiverOptions } from './receiver-options.ts'
import { receiverSettings } from './receiver-settings.ts'
import { run } from './run.ts'
import { unseal } from './unseal.ts'

export type { WebhookRequest } from '../door/webhook-door.ts'

/**
 * Receives Bitrix24 events and hands them to its handlers. It holds the parts, each with one job:
 * a router (`on`, `onAny`, `onUnknown`, `onError`, `use`), the webhook door ({@link handle}: scan,
 * verify, append), the lifecycle (the store, the worker and the poller behind the door), health and
 * metrics. Made by {@link createReceiver}; mounted in Fastify by the `b24Receiver` plugin, or in
 * any server through {@link handle}.
 */
export class Receiver {
  /** The largest body {@link handle} takes, in bytes. */
  readonly bodyLimit: number
  /** The webhook door, for any HTTP server (see {@link WebhookDoor}): 200 once the verified wire is stored; decoding, validation and dedup follow in the worker. */
  readonly handle: WebhookDoor
  readonly #router = new Router()
  readonly #lifecycle: Lifecycle
  readonly #health: ReceiverHealth
  readonly #metrics: ReceiverMetrics
  readonly #app: boolean

  /** @throws {ConfigError} for options that cannot work, naming the option. */
  constructor(options: ReceiverOptions) {
    const settings = receiverSettings(options)
    const { logger } = settings
    /** This receiver's one name: its claims, its leases and `/health` say it. */
    const replica = newReplicaId()
    this.#app = options.app !== undefined
    this.#metrics = createReceiverMetrics({
      stats: () => this.#lifecycle.store?.stats() ?? null,
      poller: () => this.#lifecycle.running?.poller?.state() ?? null,
      inFlight: () => this.#lifecycle.running?.worker.stats().inFlight ?? 0,
    })
    // One for the receiver: a portal's bucket is one, whoever calls. The store's buckets are asked
    // for on each use (shared with the replicas once the store is open; this process's until then).
    const pacer = new Pacer({ ...settings.pacing, buckets: () => this.#lifecycle.store?.restBuckets, observe: this.#metrics.rest })
    this.#lifecycle = new Lifecycle({
      logger,
      clock: settings.clock,
      shutdownTimeoutMs: settings.shutdownTimeoutMs,
      open: async () => {
        const store = settings.store.open({ logger, replica })
        const missing = !options.app ? null : !store.portals ? 'portals' : !store.candidates ? 'candidates' : null
        if (missing) {
          await store.close()
          throw new ConfigError(`app: application mode keeps portals and the installs not confirmed yet in the store, and this store has no \`${missing}\``)
        }
        return store
      },
      unseal: (store) => unseal(store, options.secretKey, settings.store, { previous: options.previousSecretKeys, logger }),
      run: (store, sealer) => run(store, sealer, { settings, router: this.#router, metrics: this.#metrics, replica, pacer }),
    })
    this.#health = receiverHealth(this.#lifecycle, this.#metrics, replica, pacer)
    // Verification is chosen once: application mode's needs the store, so it is asked for only once running (503 before).
    const verify: Verifier = this.#app ? (arrival, append) => (this.#lifecycle.started().application as Application).verify(arrival, append) : tokenVerifier(settings.tokens)
    this.bodyLimit = settings.bodyLimit
    this.handle = webhookDoor({
      bodyLimit: settings.bodyLimit,
      verify,
      append: (arrival, put) => this.#lifecycle.started().ingest.accept(arrival, put),
      logger,
      refused: createRefusalLog(logger),
      observe: this.#metrics.door,
    })
  }

  /**
   * Handles one or several chat event types, `event.data` typed for them.
   * @throws {TypeError} for a type that is not one of the 13 (a misspelling fails at start).
   */
  on<K extends ChatEventType>(types: K | readonly K[], handler: Handler<ChatEventOf<K>>): this {
    this.#router.on(types, handler)
    return this
  }

  /** Handles every event, known or not, after its typed handlers. */
  onAny(handler: Handler<NormalizedEvent>): this {
    this.#router.onAny(handler)
    return this
  }

  /** Handles events of types the schemas do not know (`ONCRMDEALADD`, `ONAPPINSTALL`, v1 events). */
  onUnknown(handler: Handler<GenericEvent>): this {
    this.#router.onUnknown(handler)
    return this
  }

  /** Hears what a handler throws. */
  onError(handler: ErrorHandler): this {
    this.#router.onError(handler)
    return this
  }

  /** Adds a router's handlers after this receiver's own: a feature written as a router of its own (the example bot). */
  use(router: Router): this {
    this.#router.use(router)
    return this
  }

  /**
   * Opens the store, the key that seals credentials, and starts the worker (and the poller); the
   * `b24Receiver` plugin calls it. A store that cannot be opened yet is tried again every few
   * seconds, events meanwhile refused with 503.
   * @throws {ConfigError} when the secret key cannot open what is stored (nothing is started).
   */
  start(): Promise<void> {
    return this.#lifecycle.start()
  }

  /**
   * The first step of {@link close}, for a server about to stop: `ready()` turns false (a load
   * balancer stops sending) and the poller stops; webhooks still in flight are still stored.
   */
  beginClose(): Promise<void> {
    return this.#lifecycle.beginClose()
  }

  /**
   * Stops: the poller, then the worker (handlers in flight get `shutdownTimeoutMs` to finish;
   * what does not finish stays stored for the next start), then the store. Idempotent.
   */
  close(): Promise<void> {
    return this.#lifecycle.close()
  }

  /**
   * Calls a portal that installed the application, as the application, outside any handler (a
   * scheduled job): its stored tokens, refreshed when they expire. Application mode only.
   * @throws {ConfigError} when the receiver has no `app` option.
   */
  portal(memberId: string): Bitrix {
    if (!this.#app) throw new ConfigError('portal(): application mode is off (give the app option, or B24_CLIENT_ID and B24_CLIENT_SECRET)')
    return {
      call: <T>(method: string, params?: Record<string, unknown>) => {
        const application = this.#lifecycle.running?.application
        return application ? application.portal(memberId).call<T>(method, params) : Promise.reject(new BitrixError(method, 'NOT_STARTED', null, 'the receiver is not started'))
      },
    }
  }

  /** Whether events can be taken now, and why not: starting, closing, a store that cannot be written, a poller stopped for good. */
  ready(): Readiness {
    return this.#health.ready()
  }

  /** What `/health` answers. */
  health(): Promise<Health> {
    return this.#health.health()
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
}

/** Makes a receiver (see {@link ReceiverOptions}); it starts when mounted (or on `start()`). Never reads the environment. */
export const createReceiver = (options: ReceiverOptions): Receiver => new Receiver(options)
