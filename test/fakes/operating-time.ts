// A portal's operating time as Bitrix24's docs describe it (bitrix24/b24restdocs limits.md,
// "Resource Consumption Limits"): the execution time of each method is summed over the last ten
// minutes, in one-minute buckets (as the b24jssdk#459 reading of the rest module found them);
// past the limit (480 s in the docs' cloud example) that method alone is refused with HTTP 429
// `OPERATION_TIME_LIMIT`; every answer's `time` says `operating` (the method's sum) and
// `operating_reset_at` (Unix seconds: when a part of it is released). For the stand-in portal
// (./limited-portal.ts).

const MINUTE_MS = 60_000
const WINDOW_MINUTES = 10

/** The docs' limit: 480 s of one method's execution time within ten minutes. */
export const DEFAULT_OPERATING_LIMIT_S = 480

/** What `time` adds for a method: its sum over the window, and when a part of it is released. */
export interface OperatingFigures {
  /** Seconds of execution time in the last ten minutes. */
  operating: number
  /** Unix seconds at which the oldest minute of the window leaves it (now when nothing is counted). */
  operating_reset_at: number
}

/**
 * Every method's execution time, in one-minute buckets, on an injected clock (epoch ms). Besides
 * the sum, a method can be held for a window (`hold`), as if other applications of the account had
 * spent its time: the stand-in's switch for "`OPERATION_TIME_LIMIT` for the next 20 s".
 */
export class OperatingTime {
  readonly #now: () => number
  #limitS: number
  /** By method: seconds spent, by minute (epoch ms / 60000, floored). */
  readonly #spent = new Map<string, Map<number, number>>()
  /** By method (`*`: every method): refused until this epoch ms. */
  readonly #held = new Map<string, number>()

  constructor(now: () => number, limitS = DEFAULT_OPERATING_LIMIT_S) {
    this.#now = now
    this.#limitS = limitS
  }

  get limitS(): number {
    return this.#limitS
  }

  setLimit(limitS: number): void {
    this.#limitS = limitS
  }

  /** `method` (or `*`, every method) is refused for the next `ms`. */
  hold(method: string, ms: number): void {
    this.#held.set(method, this.#now() + ms)
  }

  /** Until when `method` is refused (epoch ms), by a hold or by its sum over the limit; `null` when it is not. */
  refusedUntil(method: string): number | null {
    const now = this.#now()
    const held = Math.max(this.#held.get(method) ?? 0, this.#held.get('*') ?? 0)
    if (held > now) return held
    const { operating, operating_reset_at } = this.figures(method)
    return operating >= this.#limitS ? operating_reset_at * 1000 : null
  }

  /** Counts `seconds` of execution of `method`, now. */
  spend(method: string, seconds: number): void {
    const minutes = this.#minutes(method)
    const minute = Math.floor(this.#now() / MINUTE_MS)
    minutes.set(minute, (minutes.get(minute) ?? 0) + seconds)
  }

  figures(method: string): OperatingFigures {
    const minutes = this.#minutes(method)
    const current = Math.floor(this.#now() / MINUTE_MS)
    let operating = 0
    let oldest = current
    for (const [minute, seconds] of minutes) {
      if (minute <= current - WINDOW_MINUTES) minutes.delete(minute)
      else {
        operating += seconds
        oldest = Math.min(oldest, minute)
      }
    }
    const resetAt = minutes.size === 0 ? this.#now() / 1000 : ((oldest + WINDOW_MINUTES) * MINUTE_MS) / 1000
    return { operating, operating_reset_at: Math.floor(resetAt) }
  }

  #minutes(method: string): Map<number, number> {
    let minutes = this.#spent.get(method)
    if (!minutes) {
      minutes = new Map()
      this.#spent.set(method, minutes)
    }
    return minutes
  }
}
