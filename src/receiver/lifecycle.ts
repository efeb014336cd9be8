import type { Logger } from 'pino'
import type { Clock } from '../clock.ts'
import { ConfigError } from '../errors.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { Store } from '../store/store.ts'
import { StoreUnavailableError } from '../store/store-unavailable-error.ts'
import type { Running } from './run.ts'

/** How often a key file that cannot be read or made yet is tried again (as the store is). */
const RETRY_MS = 5000

export interface LifecycleParts {
  logger: Logger
  /** What the retries wait on. */
  clock: Clock
  /** How long `close()` waits for handlers in flight. */
  shutdownTimeoutMs: number
  /** Opens the store. @throws {ConfigError} when it cannot serve this receiver (nothing starts). */
  open(): Promise<Store>
  /** The key that seals credentials, checked against `store`. A `ConfigError` stops the start; anything else is tried again. */
  unseal(store: Store): Promise<Sealer>
  /** Starts what runs on the open, unsealed store. */
  run(store: Store, sealer: Sealer): Running
}

/**
 * A receiver's life: idle, then running (the store open; the parts running once it is unsealed),
 * then closing. A key that cannot be checked yet is tried again every few seconds, events
 * meanwhile refused with 503; a wrong key stops the start.
 */
export class Lifecycle {
  readonly #parts: LifecycleParts
  #phase: 'idle' | 'running' | 'closing' = 'idle'
  #store: Store | null = null
  #running: Running | null = null
  #startedAt = Date.now()
  #starting: Promise<void> | null = null
  #cancelRetry = (): void => {}
  #closing: Promise<void> | null = null

  constructor(parts: LifecycleParts) {
    this.#parts = parts
  }

  get phase(): 'idle' | 'running' | 'closing' {
    return this.#phase
  }

  /** The store, once opened. */
  get store(): Store | null {
    return this.#store
  }

  /** What runs, once the store is unsealed. */
  get running(): Running | null {
    return this.#running
  }

  /** When it was made, or last started (epoch ms). */
  get startedAt(): number {
    return this.#startedAt
  }

  /** What runs. @throws {StoreUnavailableError} before (503): not started, starting, or the store's reason. */
  started(): Running {
    if (!this.#running) throw new StoreUnavailableError(this.#phase === 'idle' ? 'the receiver is not started' : (this.#store?.unavailable() ?? 'the receiver is starting'))
    return this.#running
  }

  /** Opens the store and starts the rest once it is unsealed; once. @throws {ConfigError} (nothing is started). */
  start(): Promise<void> {
    if (this.#phase === 'idle') {
      this.#phase = 'running'
      this.#startedAt = Date.now()
      this.#starting = this.#start()
    }
    return this.#starting as Promise<void>
  }

  async #start(): Promise<void> {
    const store = await this.#parts.open()
    this.#store = store
    await this.#unseal(store)
  }

  async #unseal(store: Store): Promise<void> {
    let sealer
    try {
      sealer = await this.#parts.unseal(store)
    } catch (error) {
      if (error instanceof ConfigError) {
        await store.close()
        throw error
      }
      // A retry that was under way when the receiver closed starts nothing more.
      if (this.#phase === 'running') this.#cancelRetry = this.#parts.clock.setTimeout(() => void this.#unseal(store).catch((error: unknown) => this.#parts.logger.error({ err: error }, 'cannot start')), RETRY_MS)
      return
    }
    if (this.#phase === 'running') this.#running = this.#parts.run(store, sealer)
  }

  /** The first step of {@link close}: not ready any more, and the poller stops; webhooks in flight are still stored. */
  async beginClose(): Promise<void> {
    if (this.#phase !== 'running') return
    this.#phase = 'closing'
    this.#parts.logger.info('closing: finishing requests and handlers in flight')
    await this.#running?.poller?.stop()
  }

  /** Stops the poller, then the worker (handlers get `shutdownTimeoutMs`), then the store. Idempotent. */
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
    this.#running?.application?.stop()
    if (!started) return
    const store = this.#store as Store
    if (!this.#running) return store.close()
    const timeoutMs = this.#parts.shutdownTimeoutMs
    const drained = await this.#running.worker.stop(timeoutMs)
    await store.close()
    if (drained) this.#parts.logger.info('closed')
    else this.#parts.logger.warn({ timeoutMs }, 'closed with handlers still running: their events stay in the inbox for the next start')
  }
}
