import type { Logger } from 'pino'
import { systemClock, type Clock } from '../clock.ts'
import { ProcessRestBuckets } from '../store/process-rest-buckets.ts'
import type { BucketTake, RestBuckets } from '../store/rest-buckets.ts'
import { justWait, type Wait } from '../wait.ts'
import { BitrixError } from './bitrix-error.ts'
import type { RestObserver, RestOutcome, RestWait } from './rest-observer.ts'
import { DEFAULT_REST_RATE, rateOf, type RestRate, type RestRates } from './rest-rate.ts'

/** What {@link Pacer} takes; each unset one is its {@link PACER_DEFAULTS} entry. */
export interface PacerOptions {
  /** The store's buckets (shared by the replicas), asked each time: a store opens after the pacer is made. Unset or `undefined`: this process's own. */
  buckets?: () => RestBuckets | undefined
  /** The portals' buckets (`B24_REST_RATE`): `2/50` for every portal by default. */
  rates?: RestRates
  /** A method's operating time the portal allows per 10 minutes, in seconds (`B24_REST_OPERATING_LIMIT`); 480. */
  operatingLimitSeconds?: number
  /** Slots taken from a shared bucket at once, at most (as many as calls are waiting, up to this): fewer round trips to the store. 5. */
  leaseAtMost?: number
  /** Between two calls of a method past 80% of its operating time, until its reset; 5 s. */
  spacingMs?: number
  /**
   * How long a method the portal held without saying until when is held: from `holdBaseMs` (2 s),
   * doubling up to `holdMaxMs` (10 s: a hold ends when the oldest minute of its window leaves it,
   * so a probe every 10 s finds its end within 10 s, at the cost of one refused call each).
   */
  holdBaseMs?: number
  holdMaxMs?: number
  /** The longest one call waits in all before it fails (with the limit's code, a transient error); 15 min. */
  maxWaitMs?: number
  clock?: Clock
  observe?: RestObserver
  /** Told when the store's buckets cannot be used (then this process paces alone until they can). */
  logger?: Pick<Logger, 'warn' | 'info'>
}

/** The defaults of {@link PacerOptions}. */
export const PACER_DEFAULTS = { operatingLimitSeconds: 480, leaseAtMost: 5, spacingMs: 5000, holdBaseMs: 2000, holdMaxMs: 10000, maxWaitMs: 900000 }

/** Past this share of its operating time, a method's calls are spaced out. */
const OPERATING_SHARE = 0.8
/** How often calls waiting for a probe of a hold look again; and how long a probe that never answers (aborted before it was sent) holds them at most. */
const PROBE_CHECK_MS = 250
const PROBE_LONGEST_MS = 30000
/** The operating window is 10 minutes: a reset said to come later is not believed past it (and a minute of skew). */
const LONGEST_HOLD_MS = 11 * 60000

/** How one call waits for its turn. */
export interface PaceOptions {
  /** Ends the wait early, with its reason. */
  signal?: AbortSignal
  /** Every wait goes through it (the worker's: it lends the attempt's slot meanwhile). */
  wait?: Wait
  /** Epoch ms (the pacer's clock) past which the call stops waiting; from {@link Pacer.deadline}. Now plus `maxWaitMs` when unset. */
  until?: number
}

/** A portal's bucket as this receiver last saw it, for `/health`. */
export interface BucketLevel {
  portal: string
  /** Calls counted in the bucket now (as last known, drained since). */
  level: number
  threshold: number
  /** Calls waiting here for room. */
  waiting: number
}

interface Waiter {
  grant(): void
}

/** One portal: its callers in arrival order, slots taken from the bucket and not given yet, and what is known of its level. */
interface Line {
  host: string
  rate: RestRate
  queue: Waiter[]
  credit: number
  /** A take is under way or planned. */
  busy: boolean
  level: number
  at: number
}

/** One method of one portal: held (`OPERATION_TIME_LIMIT`) or spaced out (near its operating limit). */
interface MethodState {
  heldUntil: number
  holds: number
  /** Once a hold ends, one call goes first to see whether it has (until its answer, or this time at most); the others wait for it. */
  probeUntil: number
  spacedUntil: number
  nextAt: number
}

/**
 * Paces the REST calls of one receiver by each portal's leaky bucket (see ../store/rest-buckets.ts),
 * and by what the portal said of each method's operating time. Before each request a call takes
 * a slot: a method the portal holds waits out the hold first (other methods go on), a method near
 * its operating limit waits its spaced turn, then the call joins its portal's line, served in
 * arrival order as the bucket has room. Every wait goes through the call's `wait` and ends early
 * with its `signal`. A replica takes slots from the shared bucket a few at a time, as many as
 * callers wait. When the store's buckets fail, this process counts alone meanwhile.
 */
export class Pacer {
  readonly #options: typeof PACER_DEFAULTS
  readonly #rates: RestRates
  readonly #clock: Clock
  readonly #shared: () => RestBuckets | undefined
  readonly #own: ProcessRestBuckets
  readonly #observe: RestObserver | undefined
  readonly #logger: PacerOptions['logger']
  readonly #lines = new Map<string, Line>()
  readonly #methods = new Map<string, MethodState>()
  #storeFailing = false

  constructor(options: PacerOptions = {}) {
    this.#options = { ...PACER_DEFAULTS }
    for (const key of Object.keys(PACER_DEFAULTS) as Array<keyof typeof PACER_DEFAULTS>) if (options[key] !== undefined) this.#options[key] = options[key]
    this.#rates = options.rates ?? { rate: DEFAULT_REST_RATE, portals: {} }
    this.#clock = options.clock ?? systemClock
    this.#own = new ProcessRestBuckets(() => this.#clock.now())
    this.#shared = options.buckets ?? (() => undefined)
    this.#observe = options.observe
    this.#logger = options.logger
  }

  /** When a call starting now stops waiting (see {@link PaceOptions.until}). */
  deadline(): number {
    return this.#clock.now() + this.#options.maxWaitMs
  }

  /**
   * Resolves when `method` may be sent to the portal at `host`: its slot is counted in the bucket.
   * @throws the signal's reason when it aborts; a transient {@link BitrixError} with the limit's
   * code when the wait would pass `until`.
   */
  async take(host: string, method: string, { signal, wait = justWait, until = this.deadline() }: PaceOptions = {}): Promise<void> {
    signal?.throwIfAborted()
    // A call waits its spaced turn once; a hold that comes meanwhile it waits out too.
    let spaced = false
    for (;;) {
      const gate = this.#gate(host, method, spaced)
      if (!gate) break
      spaced ||= gate.reason === 'spaced'
      if (gate.at > until) throw this.#tooLong(method, gate.reason)
      const started = this.#clock.now()
      await wait(this.#sleep(gate.at - started, signal))
      this.#observe?.waited(gate.reason, (this.#clock.now() - started) / 1000)
    }
    const line = this.#line(host)
    if (line.credit > 0 && line.queue.length === 0) {
      line.credit--
      return
    }
    const started = this.#clock.now()
    await wait(this.#queue(line, method, until, signal))
    this.#observe?.waited('bucket', (this.#clock.now() - started) / 1000)
  }

  /**
   * What one request to `host` came to: `error` (`null`: answered) and the answer's `time`. It
   * counts the request; a refusal for the bucket marks it full (the call waits for room before it
   * is sent again); `OPERATION_TIME_LIMIT` holds the method until the portal's reset; an
   * `operating` past 80% of the limit spaces the method's calls out until then.
   */
  async answered(host: string, method: string, error: BitrixError | null, time: unknown): Promise<void> {
    this.#observe?.called(method, outcomeOf(error))
    const now = this.#clock.now()
    const told = readTime(time, now)
    const key = `${host} ${method}`
    let state = this.#methods.get(key)
    if (state) state.probeUntil = 0
    if (error?.rateLimited) this.#observe?.limited(error.code)
    if (error?.code === 'OPERATION_TIME_LIMIT') {
      state ??= this.#method(key)
      const backoff = Math.min(this.#options.holdMaxMs, this.#options.holdBaseMs * 2 ** state.holds)
      state.holds++
      state.heldUntil = Math.min(now + LONGEST_HOLD_MS, Math.max(now + this.#options.holdBaseMs, told?.resetAt ?? now + backoff))
      return
    }
    if (error?.rateLimited) return this.#fill(host)
    if (state && !error) state.holds = 0
    if (told?.operating === undefined || told.resetAt === undefined) return
    if (told.operating >= OPERATING_SHARE * this.#options.operatingLimitSeconds && told.resetAt > now) {
      state ??= this.#method(key)
      state.spacedUntil = Math.min(now + LONGEST_HOLD_MS, told.resetAt)
    } else if (state) state.spacedUntil = 0
  }

  /** The busiest portals' buckets as this receiver sees them (those with callers waiting first, then the fullest), `count` at most. */
  levels(count = 5): BucketLevel[] {
    const now = this.#clock.now()
    const levels: BucketLevel[] = []
    for (const line of this.#lines.values()) {
      const level = Math.max(0, line.level - ((now - line.at) / 1000) * line.rate.drainPerSecond)
      // A portal left alone is forgotten once its bucket has drained.
      if (level === 0 && !line.busy && line.queue.length === 0) this.#lines.delete(line.host)
      else levels.push({ portal: line.host, level: Math.round(level * 10) / 10, threshold: line.rate.threshold, waiting: line.queue.length })
    }
    return levels.sort((a, b) => b.waiting - a.waiting || b.level - a.level).slice(0, count)
  }

  /** Until when `method` must wait before it joins its portal's line, and why, or `null` when it need not. */
  #gate(host: string, method: string, spaced: boolean): { at: number; reason: RestWait } | null {
    const key = `${host} ${method}`
    const state = this.#methods.get(key)
    if (!state) return null
    const now = this.#clock.now()
    if (state.heldUntil > now) return { at: state.heldUntil, reason: 'held' }
    // Past a hold with no answer since: the first call probes it, the others wait for its answer
    // (all at once, they would all be refused while the hold lasts).
    if (state.holds > 0 && state.probeUntil > now) return { at: Math.min(state.probeUntil, now + PROBE_CHECK_MS), reason: 'held' }
    if (state.spacedUntil > now && !spaced) {
      // Each call reserves its spaced turn as it comes; one whose turn would come after the
      // portal's reset goes at the reset, when the spacing ends.
      const at = Math.max(now, state.nextAt)
      if (at >= state.spacedUntil) return { at: state.spacedUntil, reason: 'spaced' }
      state.nextAt = at + this.#options.spacingMs
      if (at > now) return { at, reason: 'spaced' }
    }
    // The call goes now: it is the probe of a hold, if there was one.
    if (state.holds > 0) state.probeUntil = now + PROBE_LONGEST_MS
    else if (state.spacedUntil <= now) this.#methods.delete(key)
    return null
  }

  #method(key: string): MethodState {
    const state = { heldUntil: 0, holds: 0, probeUntil: 0, spacedUntil: 0, nextAt: 0 }
    this.#methods.set(key, state)
    return state
  }

  #line(host: string): Line {
    let line = this.#lines.get(host)
    if (!line) this.#lines.set(host, (line = { host, rate: rateOf(this.#rates, host), queue: [], credit: 0, busy: false, level: 0, at: this.#clock.now() }))
    return line
  }

  /** Waits in the portal's line for a slot. */
  #queue(line: Line, method: string, until: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const leave = (error: unknown) => {
        cancel()
        signal?.removeEventListener('abort', aborted)
        line.queue.splice(line.queue.indexOf(waiter), 1)
        reject(error)
      }
      const aborted = () => leave(signal?.reason)
      const waiter: Waiter = {
        grant() {
          cancel()
          signal?.removeEventListener('abort', aborted)
          resolve()
        },
      }
      const cancel = this.#clock.setTimeout(() => leave(this.#tooLong(method, 'bucket')), until - this.#clock.now())
      signal?.addEventListener('abort', aborted, { once: true })
      line.queue.push(waiter)
      this.#pump(line)
    })
  }

  /** Gives the line's slots to its first callers, and takes more from the bucket while callers wait (one take at a time). */
  #pump(line: Line): void {
    this.#serve(line)
    if (line.busy || line.queue.length === 0) return
    line.busy = true
    void this.#take(line.host, Math.min(line.queue.length, this.#options.leaseAtMost), line.rate).then(({ granted, retryInMs, level }) => {
      line.credit += granted
      line.level = level
      line.at = this.#clock.now()
      this.#serve(line)
      const again = () => {
        line.busy = false
        this.#pump(line)
      }
      if (line.queue.length === 0 || retryInMs === 0) again()
      else this.#clock.setTimeout(again, retryInMs)
    })
  }

  #serve(line: Line): void {
    while (line.credit > 0 && line.queue.length > 0) {
      line.credit--
      ;(line.queue.shift() as Waiter).grant()
    }
  }

  /** A take from the store's buckets, or this process's own while those fail. */
  async #take(host: string, want: number, rate: RestRate): Promise<BucketTake> {
    // Whatever fails here falls back: a rejection would leave the line busy, its callers stuck.
    try {
      const shared = this.#shared()
      if (shared) {
        const taken = await shared.take(host, want, rate)
        if (this.#storeFailing) this.#logger?.info("the store's REST buckets are back: calls are paced with the other replicas again")
        this.#storeFailing = false
        return taken
      }
    } catch (error) {
      if (!this.#storeFailing) this.#logger?.warn({ err: error }, "the store's REST buckets cannot be used: this process paces its calls alone meanwhile")
      this.#storeFailing = true
    }
    return this.#own.take(host, want, rate)
  }

  /** The portal refused a call for its bucket: full, here and in the store; what was taken and not used yet is not used. */
  async #fill(host: string): Promise<void> {
    const line = this.#line(host)
    line.credit = 0
    line.level = Math.max(line.level, line.rate.threshold)
    line.at = this.#clock.now()
    await this.#own.fill(host, line.rate)
    await this.#shared()?.fill(host, line.rate).catch(() => undefined)
  }

  #sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const aborted = () => {
        cancel()
        reject(signal?.reason)
      }
      const cancel = this.#clock.setTimeout(() => {
        signal?.removeEventListener('abort', aborted)
        resolve()
      }, ms)
      signal?.addEventListener('abort', aborted, { once: true })
    })
  }

  #tooLong(method: string, reason: RestWait): BitrixError {
    const code = reason === 'bucket' ? 'QUERY_LIMIT_EXCEEDED' : 'OPERATION_TIME_LIMIT'
    return new BitrixError(method, code, null, `would wait past the call's longest wait (${this.#options.maxWaitMs} ms) for the portal's ${reason === 'bucket' ? 'bucket' : 'operating time'}`)
  }
}

/** What a request came to, for the metrics. */
const outcomeOf = (error: BitrixError | null): RestOutcome =>
  !error ? 'ok' : error.rateLimited ? 'limited' : error.fatal ? 'fatal' : error.transient ? 'transient' : 'error'

/**
 * An answer's `time` (the docs' limits.md): `operating`, the method's seconds over the window, and
 * `operating_reset_at` (epoch seconds, the portal's clock) read on this side's clock, by how far
 * `finish` (the portal's clock when it answered) is from now.
 */
function readTime(time: unknown, now: number): { operating?: number; resetAt?: number } | null {
  if (typeof time !== 'object' || time === null) return null
  const { operating, operating_reset_at: reset, finish } = time as Record<string, unknown>
  const skew = typeof finish === 'number' ? now - finish * 1000 : 0
  return {
    operating: typeof operating === 'number' ? operating : undefined,
    resetAt: typeof reset === 'number' ? reset * 1000 + skew : undefined,
  }
}
