import type { Logger } from 'pino'
import { createContext } from '../router/create-context.ts'
import type { Router } from '../router/router.ts'
import { backoff } from './backoff.ts'
import type { Inbox, StoredEvent } from './inbox.ts'

export interface WorkerOptions {
  /** Events handled at once, across chats (one at a time within a chat). */
  concurrency: number
  /** Attempts before an event goes to the dead letter. */
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  /** How often an idle worker looks for work added by another process (`dlq replay`). */
  pollIntervalMs: number
}

/** Counters for `/health`. */
export interface WorkerStats {
  inFlight: number
  handled: number
  failedAttempts: number
  deadLettered: number
}

const describe = (errors: unknown[]) => errors.map((error) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))).join('; ')

/**
 * Takes events from the inbox and runs them through the router: up to `concurrency` at once,
 * one chat's events in arrival order, failures retried with exponential backoff and jitter,
 * then dead-lettered. An event leaves the inbox only once handled; a crash leaves it pending
 * for the next start.
 */
export class Worker {
  readonly #inbox: Inbox
  readonly #router: Router
  readonly #logger: Logger
  readonly #options: WorkerOptions
  readonly #running = new Map<number, Promise<void>>()
  readonly #busyChats = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  #pumpScheduled = false
  #stopped = true
  #unsubscribe: (() => void) | undefined
  readonly #counts = { handled: 0, failedAttempts: 0, deadLettered: 0 }

  constructor(inbox: Inbox, router: Router, logger: Logger, options: WorkerOptions) {
    this.#inbox = inbox
    this.#router = router
    this.#logger = logger
    this.#options = options
  }

  /** Starts handling, beginning with whatever a previous run left pending. */
  start(): void {
    this.#stopped = false
    this.#unsubscribe = this.#inbox.onAdded(() => this.#schedule())
    this.#schedule()
  }

  /**
   * Finishes the events that are due (the doors are closed by now), up to `timeoutMs`, then
   * stops; whatever did not finish stays pending for the next start. `true` when all finished.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    this.#unsubscribe?.()
    while (Date.now() < deadline && (this.#running.size > 0 || this.#hasDueWork())) {
      this.#schedule()
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    this.#stopped = true
    clearTimeout(this.#timer)
    return this.#running.size === 0
  }

  #hasDueWork(): boolean {
    const due = this.#inbox.nextDueAt()
    return due !== null && due <= Date.now()
  }

  stats(): WorkerStats {
    return { inFlight: this.#running.size, ...this.#counts }
  }

  #schedule(): void {
    if (this.#pumpScheduled || this.#stopped) return
    this.#pumpScheduled = true
    setImmediate(() => {
      this.#pumpScheduled = false
      this.#pump()
    })
  }

  #pump(): void {
    if (this.#stopped) return
    const free = this.#options.concurrency - this.#running.size
    let claimed: StoredEvent[] = []
    if (free > 0) {
      try {
        claimed = this.#inbox.claim(Date.now(), free, this.#busyChats)
      } catch (error) {
        this.#logger.error({ err: error }, 'cannot read the inbox')
      }
    }
    for (const stored of claimed) {
      this.#busyChats.add(stored.chatKey)
      this.#running.set(stored.id, this.#handle(stored))
    }
    this.#wakeLater()
  }

  // Sleep until the next retry is due, or the poll interval, whichever comes first.
  #wakeLater(): void {
    clearTimeout(this.#timer)
    let delay = this.#options.pollIntervalMs
    try {
      const due = this.#inbox.nextDueAt()
      if (due !== null) delay = Math.max(0, Math.min(delay, due - Date.now()))
    } catch {
      // Reading failed: the poll interval will try again.
    }
    this.#timer = setTimeout(() => this.#schedule(), delay)
    this.#timer.unref()
  }

  async #handle(stored: StoredEvent): Promise<void> {
    const attempt = stored.attempts + 1
    const ctx = createContext(stored.inbound, this.#logger, attempt, stored.key)
    const result = await this.#router.dispatch(stored.inbound.event, ctx)
    // Finished after the worker stopped (and the inbox closed): it stays pending for the next start.
    if (this.#stopped) return
    try {
      if (result.errors.length === 0) {
        this.#inbox.complete(stored.id)
        this.#counts.handled++
      } else if (attempt >= this.#options.maxAttempts) {
        this.#inbox.bury(stored.id, attempt, describe(result.errors))
        this.#counts.failedAttempts++
        this.#counts.deadLettered++
        ctx.log.error({ attempt, inboxId: stored.id }, 'handlers kept failing: moved to the dead letter')
      } else {
        const delayMs = backoff(attempt, this.#options.retryBaseMs, this.#options.retryMaxMs)
        this.#inbox.retry(stored.id, attempt, Date.now() + delayMs, describe(result.errors))
        this.#counts.failedAttempts++
        ctx.log.warn({ attempt, retryInMs: delayMs, inboxId: stored.id }, 'handlers failed: will retry')
      }
    } catch (error) {
      // The event stays pending as it was and is handled again, after a pause: at least once, never lost.
      ctx.log.error({ err: error, inboxId: stored.id }, 'cannot record the outcome in the inbox')
      this.#running.delete(stored.id)
      setTimeout(() => this.#release(stored.chatKey), this.#options.retryBaseMs).unref()
      return
    }
    this.#running.delete(stored.id)
    this.#release(stored.chatKey)
  }

  #release(chatKey: string): void {
    this.#busyChats.delete(chatKey)
    this.#schedule()
  }
}
