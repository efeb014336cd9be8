import type { RestRate } from './rest-buckets.ts'
import { grantable, nextSlotInMs, type BucketTake, type RestBuckets } from './rest-buckets.ts'

/**
 * The REST buckets of one process (the embedded store's: only this process calls the portals).
 * `now` is the clock they drain by (epoch ms).
 */
export class ProcessRestBuckets implements RestBuckets {
  readonly #buckets = new Map<string, { level: number; at: number }>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }

  async take(portal: string, want: number, rate: RestRate): Promise<BucketTake> {
    const bucket = this.#drained(portal, rate)
    const granted = grantable(bucket.level, want, rate)
    bucket.level += granted
    return { granted, retryInMs: nextSlotInMs(bucket.level, rate), level: bucket.level }
  }

  async fill(portal: string, rate: RestRate): Promise<void> {
    const bucket = this.#drained(portal, rate)
    bucket.level = Math.max(bucket.level, rate.threshold)
  }

  /** The portal's bucket drained to now. */
  #drained(portal: string, rate: RestRate): { level: number; at: number } {
    const now = this.#now()
    let bucket = this.#buckets.get(portal)
    if (!bucket) this.#buckets.set(portal, (bucket = { level: 0, at: now }))
    bucket.level = Math.max(0, bucket.level - (Math.max(0, now - bucket.at) / 1000) * rate.drainPerSecond)
    bucket.at = now
    return bucket
  }
}
