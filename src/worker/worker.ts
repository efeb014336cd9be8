import type { Logger } from 'pino'
import { backoff } from '../backoff.ts'
import { portalOfChat } from '../event/event-keys.ts'
import type { ClaimedRecord, Queue, StoredRecord } from '../store/store.ts'
import type { Wait } from '../wait.ts'

export interface WorkerOptions {
  /**
   * Records handled at once, across chats (one at a time within a chat). An attempt waiting for
   * room outside it (its portal's REST bucket) lends its slot meanwhile; a portal has at most this
   * many attempts under way, waiting or not.
   */
  concurrency: number
  /** Attempts before a record goes to the dead letter. */
  maxAttempts: number
  /** The pause before the first retry, doubling up to `retryMaxMs`, with jitter. */
  retryBaseMs: number
  retryMaxMs: number
  /** The jitter's source (`Math.random`); tests seed it. */
  random?: () => number
  /** Told of each attempt and its outcome (the receiver's metrics); none by default. */
  observe?: WorkerObserver
}

/**
 * What the worker wrote of an attempt: done after the whole chain (`handled`), done with the
 * chain stopped by a step (`skipped`: the outcome says why), due again later without spending an
 * attempt (`postponed`), failed and due again (`retried`), failed for the last time
 * (`dead-lettered`), undeliverable (`rejected`: to the dead letter at once); or nothing, its claim
 * lost (`lost`: the record's new holder writes its outcome).
 */
export type Settlement = 'handled' | 'skipped' | 'postponed' | 'retried' | 'dead-lettered' | 'rejected' | 'lost'

/** Follows the worker's attempts, for whoever measures them; it must not throw. */
export interface WorkerObserver {
  /** An attempt at `record` begins (`record.attempts` earlier ones failed). */
  attempting(record: StoredRecord): void
  /**
   * Its outcome is written; `ms`: how long the dispatch (decoding and handlers) took; `skipped`:
   * for a `skipped` one, why (the outcome's).
   */
  settled(record: StoredRecord, settlement: Settlement, ms: number, skipped?: string): void
}

/** A record dealt with: its dedup key (kept for the dedup window), and why, if a step stopped before it was handled. */
export interface Outcome {
  key: string | null
  /**
   * Done unhandled, on purpose: why, in the words of the step that stopped (`duplicate`, a
   * double delivery whose key was seen, is counted apart for `/health`).
   */
  skipped?: string
}

/**
 * Handles one record on attempt number `attempt`; what it throws makes the attempt fail, and an
 * {@link Undeliverable} sends the record to the dead letter at once. `signal` aborts when the
 * record's claim is lost: whatever the attempt does after that, nothing of it is written. What
 * it waits for outside it (its portal's REST bucket) goes through `wait`: meanwhile its slot is
 * another event's.
 */
export type Dispatch = (record: StoredRecord, attempt: number, signal: AbortSignal, wait?: Wait) => Promise<Outcome>

/** A record that no attempt can deliver (it does not decode): to the dead letter at once, its wire kept for a replay. */
export class Undeliverable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'Undeliverable'
  }
}

/** Thrown by a dispatch for a record that cannot be handled yet and is no failure: due again after `delayMs`, its attempts unchanged. */
export class Postponed extends Error {
  readonly delayMs: number

  constructor(reason: string, delayMs: number) {
    super(reason)
    this.name = 'Postponed'
    this.delayMs = delayMs
  }
}

/** Counters for `/health`. */
export interface WorkerStats {
  inFlight: number
  /** Of those in flight, attempts waiting for room outside them (their portal's REST bucket): their slots are lent. */
  waiting: number
  handled: number
  /** Double deliveries recognised (not handled again). */
  duplicates: number
  /** Records that did not decode, moved to the dead letter. */
  rejected: number
  failedAttempts: number
  deadLettered: number
}

/**
 * Takes records from the store's queue and hands each to `dispatch`: up to `concurrency` at once
 * (and while some wait for room outside them, their slots lent to others: up to eight times as
 * many under way), one chat's records in arrival order (the queue's claim sees to it), failures retried with
 * exponential backoff and jitter, then dead-lettered. A record leaves the queue only once its
 * outcome is written; a crash leaves it pending for the next start. It knows nothing of what a
 * record holds or who handles it.
 */
export class Worker {
  readonly #queue: Queue
  readonly #dispatch: Dispatch
  readonly #logger: Logger
  readonly #options: WorkerOptions
  readonly #running = new Map<number, Promise<void>>()
  /** Attempts waiting for room outside them: their slots are lent. */
  readonly #lent = new Set<object>()
  /** Attempts under way (waiting or not) by portal: a portal at `concurrency` gets no more turns. */
  readonly #portals = new Map<string, number>()
  readonly #counts = { handled: 0, duplicates: 0, rejected: 0, failedAttempts: 0, deadLettered: 0 }
  #stopped = true
  /** In `stop()`: nothing is lent (a slot lent now would start what cannot finish). */
  #stopping = false
  #scheduled = false
  #pumping: Promise<void> | null = null
  /** The last claim failed: told once, until one goes through. */
  #unreadable = false
  #unsubscribe: (() => void) | undefined

  constructor(queue: Queue, dispatch: Dispatch, logger: Logger, options: WorkerOptions) {
    this.#queue = queue
    this.#dispatch = dispatch
    this.#logger = logger
    this.#options = options
  }

  /** Starts handling, beginning with whatever a previous run left pending. */
  start(): void {
    this.#stopped = false
    this.#unsubscribe = this.#queue.onAvailable(() => this.#schedule())
    this.#schedule()
  }

  /**
   * Finishes the records that are due (the doors are closed by now), up to `timeoutMs`, then
   * stops; whatever did not finish stays pending for the next start. `true` when all finished.
   */
  async stop(timeoutMs: number): Promise<boolean> {
    this.#unsubscribe?.()
    this.#stopping = true
    const deadline = Date.now() + timeoutMs
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))
    for (;;) {
      // Nothing new is taken once the time is up: it would only start what cannot finish.
      if (Date.now() < deadline) await this.#pump()
      if (this.#running.size === 0 || Date.now() >= deadline) break
      await Promise.race([Promise.race(this.#running.values()), timeout])
    }
    clearTimeout(timer)
    this.#stopped = true
    this.#stopping = false
    return this.#running.size === 0
  }

  stats(): WorkerStats {
    return { inFlight: this.#running.size, waiting: this.#lent.size, ...this.#counts }
  }

  #schedule(): void {
    if (this.#scheduled || this.#stopped) return
    this.#scheduled = true
    setImmediate(() => {
      this.#scheduled = false
      void this.#pump()
    })
  }

  // One claim at a time: a second call waits for the first and claims again.
  async #pump(): Promise<void> {
    while (this.#pumping) await this.#pumping
    this.#pumping = this.#claim()
    await this.#pumping
    this.#pumping = null
  }

  async #claim(): Promise<void> {
    const { concurrency } = this.#options
    // Slots lent by waiting attempts are free (not while stopping); so many attempts under way in all, at most.
    const lent = this.#stopping ? 0 : this.#lent.size
    const free = Math.min(concurrency - (this.#running.size - lent), concurrency * MAX_UNDER_WAY - this.#running.size)
    if (free <= 0 || this.#stopped) return
    try {
      const claimed = await this.#queue.claim(free, this.#fullPortals())
      if (this.#unreadable) this.#logger.info('the inbox can be read again')
      this.#unreadable = false
      for (const record of claimed) {
        // A claim that answered after the stop: given back untouched, for the next start.
        if (this.#stopped) await this.#release(record)
        else this.#start(record)
      }
    } catch (error) {
      // A store that is away fails every poll (PostgreSQL's, each second): told when it goes and
      // when it is back, with no stack (the store's `unavailable()` keeps the reason for /ready).
      if (!this.#unreadable) this.#logger.error({ reason: reasonOf(error) }, 'cannot read the inbox')
      this.#unreadable = true
    }
  }

  // Turns are fair between portals: one with `concurrency` attempts under way (most of them
  // waiting for its REST bucket, likely) is skipped by the claim while it has, so its backlog
  // does not keep another portal's events waiting behind it.
  #fullPortals(): ReadonlySet<string> {
    const full = new Set<string>()
    for (const [portal, count] of this.#portals) if (count >= this.#options.concurrency) full.add(portal)
    return full
  }

  #start(record: ClaimedRecord): void {
    const portal = portalOfChat(record.chatKey)
    this.#portals.set(portal, (this.#portals.get(portal) ?? 0) + 1)
    const handled = this.#handle(record).finally(() => {
      const left = (this.#portals.get(portal) as number) - 1
      if (left === 0) this.#portals.delete(portal)
      else this.#portals.set(portal, left)
    })
    this.#running.set(record.id, handled)
  }

  // The attempt's waits for room outside it: its slot is lent meanwhile (another event may be
  // claimed), and taken back as the wait ends, even past `concurrency` for a moment. Once the
  // attempt has settled, a wait of a handler still running past its timeout lends nothing: its
  // slot is free already.
  #lender(): { wait: Wait; settled(): void } {
    const attempt = {}
    let waits = 0
    let settled = false
    const wait: Wait = async (waiting) => {
      if (settled) return waiting
      if (waits++ === 0) {
        this.#lent.add(attempt)
        this.#schedule()
      }
      try {
        return await waiting
      } finally {
        if (--waits === 0) this.#lent.delete(attempt)
      }
    }
    return {
      wait,
      settled: () => {
        settled = true
        this.#lent.delete(attempt)
      },
    }
  }

  async #handle(record: ClaimedRecord): Promise<void> {
    const attempt = record.attempts + 1
    const observe = this.#options.observe
    observe?.attempting(record)
    const startedAt = performance.now()
    let outcome: Outcome | null = null
    let failure: unknown = null
    const lender = this.#lender()
    try {
      outcome = await this.#dispatch(record, attempt, record.lost, lender.wait)
    } catch (error) {
      failure = error ?? new Error('a handler failed without a reason')
    }
    lender.settled()
    const ms = performance.now() - startedAt
    // Finished after the worker stopped: its outcome is not written (the store may be closed by
    // now); it stays pending, given back for whoever starts next.
    if (this.#stopped) {
      this.#running.delete(record.id)
      await this.#release(record)
      return
    }
    let settlement: Settlement | null = null
    try {
      // A claim known lost writes nothing: the record's new holder writes its outcome. It is given
      // back all the same, which the store refuses (it is not this claim's) and forgets.
      settlement = record.lost.aborted ? await this.#abandon(record) : await this.#record(record, attempt, outcome, failure)
      if (settlement === 'lost') this.#lost(record)
    } catch (error) {
      // It stays pending as it was and is handled again after a pause: at least once, never lost.
      this.#logger.error({ err: error, type: record.type, inboxId: record.id }, 'cannot record the outcome in the inbox')
      setTimeout(() => void this.#release(record), this.#options.retryBaseMs).unref()
    }
    if (settlement) observe?.settled(record, settlement, ms, outcome?.skipped)
    this.#running.delete(record.id)
    this.#schedule()
  }

  // A store that cannot give it back now leaves it claimed: claimable again once the claim ends
  // (PostgreSQL's by its timeout), handled at least once, never lost.
  async #release(record: ClaimedRecord): Promise<void> {
    try {
      await this.#queue.release(record)
    } catch (error) {
      this.#logger.error({ err: error, type: record.type, inboxId: record.id }, 'cannot give a claimed record back to the inbox')
    }
  }

  async #abandon(record: ClaimedRecord): Promise<'lost'> {
    await this.#queue.release(record)
    return 'lost'
  }

  // One warn line per lost claim, naming the record; its attempt's outcome is not written.
  #lost(record: ClaimedRecord): void {
    this.#logger.warn({ type: record.type, inboxId: record.id }, 'the claim on this event was lost (it lapsed unrenewed): its attempt is abandoned, the holder that took it over writes its outcome')
  }

  // Writes the attempt's outcome, fenced by its claim: `lost` when the claim was lost meanwhile (nothing written).
  async #record(record: ClaimedRecord, attempt: number, outcome: Outcome | null, failure: unknown): Promise<Settlement> {
    if (outcome) {
      if (!(await this.#queue.complete(record, outcome.key))) return 'lost'
      if (outcome.skipped === undefined) this.#counts.handled++
      else if (outcome.skipped === 'duplicate') this.#counts.duplicates++
      return outcome.skipped === undefined ? 'handled' : 'skipped'
    }
    if (failure instanceof Postponed) {
      if (!(await this.#queue.retry(record, record.attempts, Date.now() + failure.delayMs, failure.message))) return 'lost'
      return 'postponed'
    }
    if (failure instanceof Undeliverable) {
      if (!(await this.#queue.bury(record, attempt, failure.message))) return 'lost'
      this.#counts.rejected++
      // The reason names paths, never values: the wire is in the dead letter for whoever may read it.
      this.#logger.warn({ type: record.type, inboxId: record.id, reason: failure.message }, 'an event that does not decode is kept in the dead letter: fix it and `b24-receiver dlq replay` it')
      return 'rejected'
    }
    const line = { err: failure, type: record.type, inboxId: record.id, attempt }
    const reason = reasonOf(failure)
    this.#counts.failedAttempts++
    if (attempt >= this.#options.maxAttempts) {
      if (!(await this.#queue.bury(record, attempt, reason))) return 'lost'
      this.#counts.deadLettered++
      this.#logger.error(line, 'handlers kept failing: moved to the dead letter')
      return 'dead-lettered'
    }
    const delayMs = backoff(attempt, this.#options.retryBaseMs, this.#options.retryMaxMs, this.#options.random)
    if (!(await this.#queue.retry(record, attempt, Date.now() + delayMs, reason))) return 'lost'
    this.#logger.warn({ ...line, retryInMs: delayMs }, 'handlers failed: will retry')
    return 'retried'
  }
}

/** Attempts under way at most, waiting ones included, as a multiple of `concurrency`: what waits is held in memory, and claimed. */
const MAX_UNDER_WAY = 8

const reasonOf = (error: unknown): string => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))
