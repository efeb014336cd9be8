// A portal's request counter as Bitrix24's docs describe it (bitrix24/b24restdocs limits.md,
// "Request Intensity Limits"): each request raises it by one, it drains by Y a second, and a
// request that would take it past the threshold X is refused. For the stand-in portal
// (./limited-portal.ts); read, never copied, from no one's pacer: a fake that shared the code
// under test would agree with its bugs.

/** Requests a portal lets through: up to `threshold` at once, then `drainPerSecond` a second. */
export interface BucketRate {
  drainPerSecond: number
  threshold: number
}

/** Most plans (X = 50, Y = 2); Enterprise is 250 and 5. */
export const DEFAULT_BUCKET_RATE: BucketRate = { drainPerSecond: 2, threshold: 50 }

/**
 * One portal's bucket, on an injected clock (epoch ms). The docs leave two things open; ours:
 * a refused request does not raise the counter (it was not executed), and exactly `threshold`
 * requests pass at once from empty, so N requests take at least (N − X) / Y seconds, the
 * bucket's own minimum time that the outbound benchmark measures against.
 */
export class LeakyBucket {
  readonly #now: () => number
  #rate: BucketRate
  #level = 0
  #at: number

  constructor(now: () => number, rate: BucketRate = DEFAULT_BUCKET_RATE) {
    this.#now = now
    this.#rate = { ...rate }
    this.#at = now()
  }

  get rate(): BucketRate {
    return { ...this.#rate }
  }

  /** Another plan from now on (the level drained so far is kept). */
  setRate(rate: BucketRate): void {
    this.level()
    this.#rate = { ...rate }
  }

  /** The counter now, drained up to this moment. */
  level(): number {
    const now = this.#now()
    this.#level = Math.max(0, this.#level - ((now - this.#at) / 1000) * this.#rate.drainPerSecond)
    this.#at = now
    return this.#level
  }

  /** Takes one slot: `true`, or `false` when the request must be refused (the counter left as it was). */
  take(): boolean {
    // A hair of tolerance: a client that waits exactly 1 / Y s for a slot must find it, however
    // the two clocks rounded.
    if (this.level() + 1 > this.#rate.threshold + 1e-9) return false
    this.#level += 1
    return true
  }

  /** Raises the counter by `requests`, as another application calling from the same IP would (up to the threshold). */
  spend(requests: number): void {
    this.#level = Math.min(this.#rate.threshold, this.level() + requests)
  }
}
