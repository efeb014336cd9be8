import type { Logger } from 'pino'
import type { Clock } from '../clock.ts'

/**
 * How one confirmation went: `answered` (the OAuth server confirmed or refused it), `unanswered`
 * (it did not answer: try again later), `gone` (settled elsewhere; nobody was asked).
 */
export type Confirmation = 'answered' | 'unanswered' | 'gone'

export interface PendingInstallsOptions {
  /** Asks the OAuth server about one candidate install and stores what it says. A throw (the store failed) is tried again later. */
  confirm(id: number): Promise<Confirmation>
  logger: Logger
  /** Confirmations in flight at once at most, the door's own included. */
  maxInFlight: number
  /** The pause after a first unanswered try, doubled after each further one up to `retryMaxMs`. */
  retryBaseMs: number
  retryMaxMs: number
  clock: Clock
}

/** A confirmation the door makes itself: given back with whether the OAuth server answered. */
export interface Slot {
  release(answered: boolean): void
}

/** What `/health` shows of the confirmations. */
export interface PendingFigures {
  /** Candidates this process will ask about. */
  waiting: number
  inFlight: number
  /** Until when the OAuth server is left alone (epoch ms), or `null` while it answers. */
  restingUntil: number | null
}

/**
 * The candidate installs waiting for the OAuth server, and the calls made to it: few, and fewer
 * while it does not answer. At most `maxInFlight` confirmations at once, one per candidate; each
 * candidate tried again with backoff after an unanswered try. And the server as a whole: once a
 * confirmation goes unanswered, nobody asks for a pause (the same backoff), then one candidate
 * asks alone; an answer lets the others through again, no answer doubles the pause. Forged
 * installs by the hundred during an outage so cost a handful of calls, not hundreds. The door
 * never waits for a slot: without one, it stores the install as a candidate and goes on.
 *
 * Each replica confirms the candidates it took, and at start those it finds stored; two replicas
 * confirming one is harmless (the second finds it settled).
 */
export class PendingInstalls {
  readonly #options: PendingInstallsOptions
  readonly #waiting = new Map<number, { tries: number; dueAt: number }>()
  readonly #running = new Set<number>()
  #inFlight = 0
  /** The pause the OAuth server is given after its last failure to answer; 0 while it answers. */
  #pauseMs = 0
  #restingUntil = 0
  /** A confirmation is asking alone, after a pause. */
  #probing = false
  #wake: { at: number; cancel: () => void } | null = null
  #stopped = false

  constructor(options: PendingInstallsOptions) {
    this.#options = options
  }

  /** Confirms candidate `id` when its turn comes: at once when it was never tried, after its pause when it was `tries` times. */
  schedule(id: number, tries = 0): void {
    if (this.#stopped || this.#waiting.has(id)) return
    this.#waiting.set(id, { tries, dueAt: this.#options.clock.now() + (tries === 0 ? 0 : this.#pause(tries)) })
    this.#pump()
  }

  /** A slot for the door to confirm an install itself, or `null`: all taken, or the OAuth server is resting. */
  acquire(): Slot | null {
    if (this.#stopped || this.#pauseMs > 0 || this.#inFlight >= this.#options.maxInFlight) return null
    this.#inFlight++
    let released = false
    return {
      release: (answered) => {
        if (released) return
        released = true
        this.#inFlight--
        this.#heard(answered ? 'answered' : 'unanswered', false)
        this.#pump()
      },
    }
  }

  figures(): PendingFigures {
    return { waiting: this.#waiting.size, inFlight: this.#inFlight, restingUntil: this.#pauseMs > 0 ? this.#restingUntil : null }
  }

  /** Nothing more is started; what is in flight finishes on its own. */
  stop(): void {
    this.#stopped = true
    this.#wake?.cancel()
    this.#wake = null
    this.#waiting.clear()
  }

  #pause(tries: number): number {
    return Math.min(this.#options.retryMaxMs, this.#options.retryBaseMs * 2 ** (tries - 1))
  }

  // Starts what may start now, then sets the one timer for the next that may.
  #pump(): void {
    if (this.#stopped) return
    const now = this.#options.clock.now()
    while (this.#inFlight < this.#options.maxInFlight && now >= this.#restingUntil && !this.#probing) {
      const id = this.#next(now)
      if (id === null) break
      this.#probing = this.#pauseMs > 0
      void this.#run(id, this.#probing)
    }
    this.#arm(now)
  }

  /** The waiting candidate due first, if it is due by `now`. */
  #next(now: number): number | null {
    let first: number | null = null
    let dueAt = Infinity
    for (const [id, entry] of this.#waiting) {
      if (this.#running.has(id) || entry.dueAt > now || entry.dueAt >= dueAt) continue
      first = id
      dueAt = entry.dueAt
    }
    return first
  }

  #arm(now: number): void {
    let at = Infinity
    for (const [id, entry] of this.#waiting) if (!this.#running.has(id)) at = Math.min(at, entry.dueAt)
    at = Math.max(at, this.#restingUntil)
    // Nothing to wait for, or something due that waits for a slot (a confirmation ending wakes it): no timer.
    const wanted = at === Infinity || at <= now ? null : at
    if ((this.#wake?.at ?? null) === wanted) return
    this.#wake?.cancel()
    this.#wake =
      wanted === null
        ? null
        : {
            at: wanted,
            cancel: this.#options.clock.setTimeout(() => {
              this.#wake = null
              this.#pump()
            }, wanted - now),
          }
  }

  async #run(id: number, probe: boolean): Promise<void> {
    this.#running.add(id)
    this.#inFlight++
    let outcome: Confirmation | 'failed'
    try {
      outcome = await this.#options.confirm(id)
    } catch (error) {
      this.#options.logger.error({ err: error, candidate: id }, 'cannot confirm a pending install now: will try again')
      outcome = 'failed'
    }
    this.#running.delete(id)
    this.#inFlight--
    if (probe) this.#probing = false
    const entry = this.#waiting.get(id)
    if (entry && (outcome === 'answered' || outcome === 'gone')) this.#waiting.delete(id)
    else if (entry) {
      entry.tries++
      entry.dueAt = this.#options.clock.now() + this.#pause(entry.tries)
    }
    if (outcome !== 'failed') this.#heard(outcome, probe)
    this.#pump()
  }

  // What a confirmation tells of the OAuth server: an answer ends its rest; the first failure to
  // answer starts one, and a lone try after it that fails again doubles it. Failures of tries
  // started before the rest add nothing: the server failed once, not once per caller.
  #heard(outcome: Confirmation, probe: boolean): void {
    if (outcome === 'gone') return
    if (outcome === 'answered') {
      this.#pauseMs = 0
      this.#restingUntil = 0
      return
    }
    if (this.#pauseMs === 0) this.#pauseMs = this.#options.retryBaseMs
    else if (probe) this.#pauseMs = Math.min(this.#pauseMs * 2, this.#options.retryMaxMs)
    else return
    this.#restingUntil = this.#options.clock.now() + this.#pauseMs
  }
}
