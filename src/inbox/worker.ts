import type { Logger } from 'pino'
import type { RestSettings } from '../bitrix/bitrix.ts'
import { createContext } from '../router/create-context.ts'
import type { Router } from '../router/router.ts'
import { backoff } from './backoff.ts'
import type { Inbox, PendingRef, StoredEvent } from './inbox.ts'

export interface WorkerOptions {
  /** Events handled at once, across chats (one at a time within a chat). */
  concurrency: number
  /** Attempts before an event goes to the dead letter. */
  maxAttempts: number
  retryBaseMs: number
  retryMaxMs: number
  /** How often an idle worker looks for changes made by another process (`dlq replay`). */
  pollIntervalMs: number
  /** What handlers' `ctx.bitrix` knows beyond an event's own credentials. */
  rest?: RestSettings
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
 *
 * The line of each chat is kept in memory (ids and due times, read from the inbox at start and
 * told of every commit), so choosing the next events costs nothing however deep the inbox is.
 */
export class Worker {
  readonly #inbox: Inbox
  readonly #router: Router
  readonly #logger: Logger
  readonly #options: WorkerOptions
  /** Pending events per chat, oldest first: only the head of a line may run. */
  #lines = new Map<string, PendingRef[]>()
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
    this.#unsubscribe = this.#inbox.onAdded((added) => {
      this.#enqueue(added)
      this.#schedule()
    })
    this.#reload()
    this.#inbox.changedElsewhere()
    this.#schedule()
  }

  /**
   * Finishes the events that are due (the doors are closed by now), up to `timeoutMs`, then
   * stops; whatever did not finish stays pending for the next start. `true` when all finished.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    this.#unsubscribe?.()
    while (Date.now() < deadline && (this.#running.size > 0 || this.#dueHeads(1).length > 0)) {
      this.#schedule()
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#inbox.commit()
    return this.#running.size === 0
  }

  stats(): WorkerStats {
    return { inFlight: this.#running.size, ...this.#counts }
  }

  #reload(): void {
    this.#lines = new Map()
    this.#enqueue(this.#inbox.pending())
  }

  #enqueue(refs: PendingRef[]): void {
    for (const ref of refs) {
      const line = this.#lines.get(ref.chatKey)
      if (!line) this.#lines.set(ref.chatKey, [ref])
      // Behind others it will wait: keep its place, not the whole event (read back when its turn comes).
      else if ((line.at(-1) as PendingRef).id < ref.id) line.push({ ...ref, stored: undefined })
      else line.splice(line.findIndex((other) => other.id > ref.id), 0, ref) // a revived dead letter rejoins in its place
    }
  }

  // The due heads of idle chats, oldest first.
  #dueHeads(limit: number): PendingRef[] {
    const now = Date.now()
    const heads: PendingRef[] = []
    for (const [chat, line] of this.#lines) {
      const head = line[0] as PendingRef
      if (head.nextAt <= now && !this.#busyChats.has(chat)) heads.push(head)
    }
    return heads.sort((a, b) => a.id - b.id).slice(0, limit)
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
    for (const head of this.#dueHeads(this.#options.concurrency - this.#running.size)) {
      let stored: StoredEvent | null
      try {
        stored = head.stored ?? this.#inbox.load(head.id)
      } catch (error) {
        this.#logger.error({ err: error }, 'cannot read the inbox')
        break
      }
      if (!stored) {
        this.#dequeue(head) // handled or dropped elsewhere
        continue
      }
      this.#busyChats.add(head.chatKey)
      this.#running.set(head.id, this.#handle(stored))
    }
    this.#wakeLater()
  }

  // An event is done with (handled, dead, or gone). Usually the head of its line, but a revived
  // dead letter may have rejoined ahead of it while it ran.
  #dequeue({ id, chatKey }: { id: number; chatKey: string }): void {
    const line = this.#lines.get(chatKey) as PendingRef[]
    line.splice(line.findIndex((ref) => ref.id === id), 1)
    if (line.length === 0) this.#lines.delete(chatKey)
  }

  // Sleep until the next retry is due, or the poll interval (to notice other processes' changes).
  #wakeLater(): void {
    clearTimeout(this.#timer)
    const now = Date.now()
    let delay = this.#options.pollIntervalMs
    for (const [chat, line] of this.#lines) if (!this.#busyChats.has(chat)) delay = Math.min(delay, Math.max(0, (line[0] as PendingRef).nextAt - now))
    this.#timer = setTimeout(() => {
      try {
        if (this.#inbox.changedElsewhere()) this.#reload()
      } catch (error) {
        this.#logger.error({ err: error }, 'cannot read the inbox')
      }
      this.#schedule()
    }, delay)
    this.#timer.unref()
  }

  async #handle(stored: StoredEvent): Promise<void> {
    const attempt = stored.attempts + 1
    const ctx = createContext(stored.inbound, this.#logger, attempt, stored.key, this.#options.rest)
    const result = await this.#router.dispatch(stored.inbound.event, ctx)
    // Finished after the worker stopped (and the inbox closed): it stays pending for the next start.
    if (this.#stopped) return
    try {
      if (result.errors.length === 0) {
        this.#inbox.complete(stored.id)
        this.#dequeue(stored)
        this.#counts.handled++
      } else if (attempt >= this.#options.maxAttempts) {
        this.#inbox.bury(stored.id, attempt, describe(result.errors))
        this.#dequeue(stored)
        this.#counts.failedAttempts++
        this.#counts.deadLettered++
        ctx.log.error({ attempt, inboxId: stored.id }, 'handlers kept failing: moved to the dead letter')
      } else {
        const delayMs = backoff(attempt, this.#options.retryBaseMs, this.#options.retryMaxMs)
        const nextAt = Date.now() + delayMs
        this.#inbox.retry(stored.id, attempt, nextAt, describe(result.errors))
        // The next attempt reads the event back, with its attempt count.
        Object.assign((this.#lines.get(stored.chatKey) as PendingRef[]).find((ref) => ref.id === stored.id) as PendingRef, { nextAt, stored: undefined })
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
