import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { EventGetResultSchema } from '../../schemas/event-get-result.ts'
import type { PollerState } from '../../schemas/health.ts'
import { backoff } from '../backoff.ts'
import { BitrixError } from '../bitrix/bitrix-error.ts'
import type { RestClient, RestParams } from '../bitrix/rest-client.ts'
import { describeTarget } from '../bitrix/rest-target.ts'
import type { Portal } from '../../schemas/portal.ts'
import { polledArrival } from '../door/arrival.ts'
import type { Ingest } from '../door/ingest.ts'
import { NewerFormatError } from '../store/newer-format-error.ts'
import type { Leases, Meta } from '../store/store.ts'
import { compileDecoder } from '../wire/compile-decoder.ts'

export type { PollerState }

export interface PollerOptions {
  mode: 'im' | 'imbot'
  client: RestClient
  /** For `imbot`: the bot, and its token (sent with inbound-webhook auth only). */
  botId?: number | null
  botToken?: string | null
  /** For `imbot`: also the user's `ONIMV2*` events (needs `im.v2.Event.subscribe`). */
  withUserEvents?: boolean
  /** Events per call, 1–1000. */
  limit: number
  /** Pause between `Event.get` calls while `hasMore`: never two calls closer than this. */
  busyMs: number
  /** Pause when the queue is empty. */
  idleMs: number
  /** First pause after a failed call and its cap (exponential with jitter). */
  retryBaseMs: number
  retryMaxMs: number
  /**
   * How long the queue's lease lasts unrenewed (renewed every third of it while this poller
   * reads, whatever its calls are doing; a standby tries as often): a reader that dies is
   * replaced within about `leaseMs` and a third. 6 s.
   */
  leaseMs?: number
  /** How this poller names itself as the queue's reader (`/health`): its receiver's replica name. */
  owner: string
  ingest: Pick<Ingest, 'accept'>
  /** Where the offset is kept; may throw while the store is unavailable (then the poller waits and retries). */
  meta: () => Meta
  /** Where the lease that makes this the queue's one reader is held; may throw as `meta` may. */
  leases: () => Leases
  logger: Logger
}

const decodeBatch = compileDecoder(EventGetResultSchema)

/** The lease's default life: a standby replica takes over within 10 s of the reader's death. */
export const POLL_LEASE_MS = 6000

/** Another poller reads the queue: this one stands by. */
class Standby extends Error {}

/**
 * The polling door: reads events with `im.v2.Event.get` or `imbot.v2.Event.get` and hands them
 * to the same pipeline as the webhook route. A batch is committed to the inbox before its
 * `nextOffset` is stored and sent with the next call: an offset confirms (deletes) events for
 * good, so only what is stored is ever confirmed. Network errors, 5xx and rate limits are retried
 * with exponential backoff; bad credentials or an unknown or foreign bot stop the poller, and
 * the service reports it on `/ready`.
 */
export class Poller {
  readonly #options: PollerOptions
  readonly #queue: string
  readonly #portal: Portal
  readonly #abort = new AbortController()
  #state: PollerState
  #fatal: string | null = null
  #running: Promise<void> | null = null
  #lastGetAt = -Infinity
  /** Who holds the queue's lease while this poller reads it. */
  readonly #owner: string
  readonly #leaseMs: number
  #renewal: NodeJS.Timeout | undefined

  constructor(options: PollerOptions) {
    this.#options = options
    this.#owner = options.owner
    this.#leaseMs = options.leaseMs ?? POLL_LEASE_MS
    const target = options.client.target
    this.#queue = `poll:${options.mode}:${target.domain}:${target.kind === 'webhook' ? target.userId : 'oauth'}${options.mode === 'imbot' ? `:bot${options.botId}` : ''}`
    this.#portal = { domain: target.domain, memberId: null, clientEndpoint: new URL('/rest/', target.baseUrl).href }
    this.#state = { mode: options.mode, state: 'starting', replica: this.#owner, reader: null, offset: null, received: 0, lastPollAt: null, lastError: null }
  }

  /** The key its offset is stored under; also what makes two pollers the same queue. */
  get queue(): string {
    return this.#queue
  }

  state(): PollerState {
    return { ...this.#state }
  }

  /** Why the poller stopped for good (bad credentials, unknown bot), or `null`. */
  get fatal(): string | null {
    return this.#fatal
  }

  start(): void {
    const { mode, client, limit } = this.#options
    this.#options.logger.info({ mode, target: describeTarget(client.target), limit }, 'polling Bitrix24 for events')
    this.#running = this.#run()
  }

  /** Stops polling: a call in flight is abandoned (its events stay unconfirmed at Bitrix24), a batch being stored is finished. */
  async stop(): Promise<void> {
    this.#abort.abort()
    await this.#running
    if (this.#state.state !== 'failed') this.#state.state = 'stopped'
    await this.#letGo()
  }

  // Gives the lease up: the next reader need not wait for it to expire. A store that is
  // unavailable (`leases()` throws, or the call fails) keeps it until then: this must not fail for it.
  async #letGo(): Promise<void> {
    clearInterval(this.#renewal)
    this.#state.reader = null
    try {
      await this.#options.leases().unlease(this.#queue, this.#owner)
    } catch {
      // the lease expires on its own
    }
  }

  async #run(): Promise<void> {
    const { mode, withUserEvents } = this.#options
    // The docs: subscribe first for user events (idempotent), also before imbot's withUserEvents.
    let subscribed = !(mode === 'im' || withUserEvents)
    let failures = 0
    while (!this.#abort.signal.aborted) {
      try {
        if (!subscribed) {
          await this.#options.client.call('im.v2.Event.subscribe', {}, { signal: this.#abort.signal })
          subscribed = true
        }
        const hasMore = await this.#pollOnce()
        failures = 0
        await this.#pause(hasMore ? this.#options.busyMs : this.#options.idleMs)
      } catch (error) {
        if (this.#abort.signal.aborted) return
        if (error instanceof Standby) {
          await this.#pause(this.#leaseMs / 3).catch(() => undefined)
          continue
        }
        if (error instanceof BitrixError && error.fatal) return this.#fail(error)
        if (error instanceof BitrixError && error.code === 'USER_NOT_SUBSCRIBED') subscribed = false
        failures++
        let delayMs = backoff(failures, this.#options.retryBaseMs, this.#options.retryMaxMs)
        // An offset or lease a newer version stored: that version's replica may read the queue, so
        // this one lets the lease go and waits at least a lease's life for it to take over.
        if (error instanceof NewerFormatError) {
          await this.#letGo()
          delayMs = Math.max(delayMs, this.#leaseMs)
        }
        this.#state.state = 'retrying'
        this.#state.lastError = describe(error)
        this.#options.logger.warn({ error: this.#state.lastError, failures, retryInMs: delayMs }, 'polling failed: retrying')
        await this.#pause(delayMs).catch(() => undefined)
      }
    }
  }

  /** One `Event.get`, its events stored, its `nextOffset` kept; returns `hasMore`. */
  async #pollOnce(): Promise<boolean> {
    const { mode, client, limit, botId, botToken, withUserEvents } = this.#options
    await this.#hold(this.#options.leases())
    const meta = this.#options.meta()
    const stored = await meta.get(this.#queue)
    const offset = stored === null ? null : Number(stored)
    this.#state.offset = offset
    const params: RestParams = { limit }
    if (offset !== null) params.offset = offset
    if (mode === 'imbot') {
      params.botId = botId
      if (client.target.kind === 'webhook') params.botToken = botToken
      if (withUserEvents) params.withUserEvents = true
    }
    // The docs' pacing: at least the pause between calls, whatever happened in between.
    await this.#pause(this.#lastGetAt + this.#options.busyMs - performance.now())
    this.#lastGetAt = performance.now()
    const method = mode === 'im' ? 'im.v2.Event.get' : 'imbot.v2.Event.get'
    const result = await client.call(method, params, { signal: this.#abort.signal })
    const batch = decodeBatch(result)
    if (!batch.ok) throw new BitrixError(method, 'ERROR_UNEXPECTED_ANSWER', 200, `not an Event.get result: ${batch.issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}`)
    const { nextOffset, hasMore } = batch.value
    // The events as they came: coercion would rewrite them, and drop a `null` one that the offset
    // then confirms unstored. The worker decodes each.
    const { events } = result as { events: unknown[] }
    // Handed over in order, in one go: the store commits them together, keeping their order.
    await Promise.all(events.map((polled) => this.#options.ingest.accept(polledArrival(polled, this.#portal))))
    await meta.set(this.#queue, String(nextOffset))
    this.#state = { ...this.#state, state: 'polling', offset: nextOffset, received: this.#state.received + events.length, lastPollAt: new Date().toISOString(), lastError: null }
    if (events.length > 0) this.#options.logger.debug({ events: events.length, nextOffset, hasMore }, 'polled events stored')
    return hasMore
  }

  // Two readers of one queue would confirm (delete) each other's events: one holds the lease and
  // renews it on a timer of its own (a call may take longer than the lease); the others stand by.
  async #hold(leases: Leases): Promise<void> {
    if (await leases.lease(this.#queue, this.#owner, this.#leaseMs)) {
      if (this.#state.reader !== this.#owner) {
        this.#options.logger.info({ queue: this.#queue, replica: this.#owner }, 'this replica reads the queue')
        clearInterval(this.#renewal)
        this.#renewal = setInterval(() => void this.#renew(leases), this.#leaseMs / 3).unref()
      }
      this.#state.reader = this.#owner
      return
    }
    const reader = await leases.holder(this.#queue)
    if (this.#state.state !== 'standby') this.#options.logger.info({ queue: this.#queue, reader }, 'another replica reads the queue: this one stands by')
    clearInterval(this.#renewal)
    this.#state = { ...this.#state, state: 'standby', reader, lastError: null }
    throw new Standby()
  }

  async #renew(leases: Leases): Promise<void> {
    // Lost (the store unreachable longer than the lease, or taken over): the next call finds out and stands by.
    await leases.lease(this.#queue, this.#owner, this.#leaseMs).catch(() => false)
  }

  #pause(ms: number): Promise<void> {
    return ms > 0 ? sleep(ms, undefined, { signal: this.#abort.signal }) : Promise.resolve()
  }

  #fail(error: BitrixError): void {
    this.#fatal = `the poller stopped: ${error.message}`
    this.#state.state = 'failed'
    this.#state.lastError = describe(error)
    this.#options.logger.error(
      { code: error.code, status: error.status },
      `${this.#fatal}. Retrying cannot help: check B24_REST_URL, B24_BOT_ID, B24_BOT_TOKEN and the webhook's scopes, then restart`,
    )
  }
}

const describe = (error: unknown) => (error as Error).message
