import type { Clock } from '../../src/clock.ts'

/**
 * A clock that moves only when a test moves it: the timers set on it run, in time order, as
 * {@link advance} passes them. Minutes of backoff run in milliseconds, and a test sees exactly
 * what was scheduled when.
 */
export class ManualClock implements Clock {
  #now: number
  #timers: Array<{ at: number; seq: number; callback: () => void }> = []
  #seq = 0

  constructor(start = 1767225600000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(callback: () => void, ms: number): () => void {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback }
    this.#timers.push(timer)
    return () => {
      this.#timers = this.#timers.filter((other) => other !== timer)
    }
  }

  /** Timers set and not yet run or cancelled. */
  get timers(): number {
    return this.#timers.length
  }

  /** When the next timer runs, or `null`. */
  get next(): number | null {
    return this.#timers.reduce<number | null>((first, timer) => (first === null || timer.at < first ? timer.at : first), null)
  }

  /** Moves time on by `ms`, running each timer due meanwhile at its own time, earliest first. */
  advance(ms: number): void {
    const until = this.#now + ms
    for (;;) {
      const due = this.#timers.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (!due) break
      this.#timers = this.#timers.filter((timer) => timer !== due)
      this.#now = due.at
      due.callback()
    }
    this.#now = until
  }
}
