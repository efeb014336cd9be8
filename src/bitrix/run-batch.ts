import { BitrixError } from './bitrix-error.ts'
import type { RestParams } from './rest-client.ts'

/** Most commands one `batch` request may carry (how-to-call-rest-api/batch.md). */
export const BATCH_LIMIT = 50

/** One call of a `ctx.bitrix.batch`: a method and its parameters, as `call` takes them. */
export interface BatchCall {
  method: string
  params?: RestParams
}

/** A call of a batch that succeeded: its `result`, and for a list method its `total` and `next` offset. */
export interface BatchSuccess<T = unknown> {
  ok: true
  result: T
  /** `result_total` of a list method: how many records there are in all. */
  total?: number
  /** `result_next` of a list method: the `start` of the next page. */
  next?: number
}

/**
 * A call of a batch that failed: its own error code (`result_error`), or the whole request's when
 * that request failed (a timeout, the connection); `error.method` is the call's method, and
 * `error.status` is `null` for a code of the call itself (it has no HTTP status of its own).
 */
export interface BatchFailure {
  ok: false
  error: BitrixError
}

/** What one call of a batch came to. */
export type BatchOutcome<T = unknown> = BatchSuccess<T> | BatchFailure

/** Sends one `batch` request (`{halt: 0, cmd}`) and returns its `result`. */
export type SendBatch = (params: { halt: 0; cmd: string[] }) => Promise<unknown>

/**
 * Runs `calls` (their `commands`, built by `batchCommand`) as `batch` requests of up to
 * {@link BATCH_LIMIT}, one after another in order, each with `halt: 0`: a call that fails does not
 * stop the others. Returns an outcome per call, in the order of `calls`. A request that fails as a
 * whole with a {@link BitrixError} gives each of its calls that error and the next requests still
 * go; anything else it throws (an abandoned attempt's abort) is thrown.
 */
export async function runBatch<T = unknown>(calls: readonly BatchCall[], commands: readonly string[], send: SendBatch): Promise<Array<BatchOutcome<T>>> {
  const outcomes: Array<BatchOutcome<T>> = []
  for (let start = 0; start < calls.length; start += BATCH_LIMIT) {
    const chunk = calls.slice(start, start + BATCH_LIMIT)
    let answer: unknown
    try {
      answer = await send({ halt: 0, cmd: commands.slice(start, start + BATCH_LIMIT) })
    } catch (error) {
      if (!(error instanceof BitrixError)) throw error
      for (const call of chunk) outcomes.push({ ok: false, error: new BitrixError(call.method, error.code, error.status, error.description, { cause: error }) })
      continue
    }
    chunk.forEach((call, index) => outcomes.push(outcomeOf<T>(answer, String(index), call.method)))
  }
  return outcomes
}

/** The outcome of the call under `key` (its index in its request's `cmd`) in a `batch` answer. */
function outcomeOf<T>(answer: unknown, key: string, method: string): BatchOutcome<T> {
  const { result, result_error: errors, result_total: totals, result_next: nexts } = entries(answer)
  const failure = entries(entries(errors)[key])
  if (typeof failure.error === 'string') {
    return { ok: false, error: new BitrixError(method, failure.error, null, typeof failure.error_description === 'string' ? failure.error_description : '') }
  }
  const results = entries(result)
  // PHP sends an empty result set as `[]` and a full one of keys 0..n-1 as a list: both index by key.
  if (!Object.hasOwn(results, key)) return { ok: false, error: new BitrixError(method, 'ERROR_UNEXPECTED_ANSWER', null, 'the batch answer has neither a result nor an error for this call') }
  const outcome: BatchSuccess<T> = { ok: true, result: results[key] as T }
  const total = entries(totals)[key]
  const next = entries(nexts)[key]
  if (typeof total === 'number') outcome.total = total
  if (typeof next === 'number') outcome.next = next
  return outcome
}

/** `value` as an object to read keys of (a JSON list reads by index), or an empty one. */
function entries(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
}
