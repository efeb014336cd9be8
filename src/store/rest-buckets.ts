/**
 * A portal's REST bucket as Bitrix24 keeps it (the docs' limits.md, a leaky bucket): each call
 * adds one to a counter that drains by `drainPerSecond`; a call arriving while it is past
 * `threshold` is refused (`QUERY_LIMIT_EXCEEDED`) and not executed. `B24_REST_RATE` says it
 * (../bitrix/rest-rate.ts).
 */
export interface RestRate {
  drainPerSecond: number
  threshold: number
}

/** What {@link RestBuckets.take} gave: slots granted now, and when the next one frees. */
export interface BucketTake {
  /** Calls that may be sent now (0 to `want`): counted in the bucket already. */
  granted: number
  /** In how many ms the bucket has room for one more call (0: now). */
  retryInMs: number
  /** Calls counted in the bucket now, those granted included. */
  level: number
}

/**
 * Each portal's REST bucket as this side counts it, shared by whoever calls that portal: the
 * replicas of one store count in one bucket, as Bitrix24 counts the account's calls in one. It
 * models Bitrix24's leaky bucket (a level that drains by `drainPerSecond`, a call refused above
 * `threshold`) and grants calls only up to {@link BUCKET_MARGIN} below the threshold: a clock
 * that runs a little apart from the portal's, or a call that arrives later than it was counted,
 * costs no refusal.
 */
export interface RestBuckets {
  /** Counts up to `want` calls to `portal` in its bucket, as many as it has room for now. */
  take(portal: string, want: number, rate: RestRate): Promise<BucketTake>
  /** The portal refused a call (`QUERY_LIMIT_EXCEEDED`): its bucket is full, whatever was counted here. */
  fill(portal: string, rate: RestRate): Promise<void>
}

/** Calls kept free below the portal's threshold. */
export const BUCKET_MARGIN = 2

/** How many calls the bucket holds before this side waits: the threshold less the margin, at least one. */
export const usableOf = (rate: RestRate): number => Math.max(1, rate.threshold - BUCKET_MARGIN)

/**
 * Float noise in a drained level (47.00000000000001 for 47) is not a call less: without this
 * slack, `grantable` would refuse the slot `nextSlotInMs` says is free now, and the taker ask again
 * at once, and again. The same slack is in the PostgreSQL store's statement.
 */
export const LEVEL_SLACK = 1e-9

/** Calls granted to a bucket at `level` (drained to now) asked for `want`. */
export const grantable = (level: number, want: number, rate: RestRate): number => Math.max(0, Math.min(want, Math.floor(usableOf(rate) - level + LEVEL_SLACK)))

/** In how many ms a bucket at `level` has room for one more call. */
// (A millionth of a ms of float noise, 47.2 - 47, is not a ms more.)
export const nextSlotInMs = (level: number, rate: RestRate): number => Math.max(0, Math.ceil(((level - usableOf(rate) + 1) / rate.drainPerSecond) * 1000 - 1e-6))
