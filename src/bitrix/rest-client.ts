import type { Logger } from 'pino'
import { callSignal } from '../call-signal.ts'
import type { Wait } from '../wait.ts'
import { BitrixError } from './bitrix-error.ts'
import type { Pacer } from './pacer.ts'
import { describeTarget, type RestTarget } from './rest-target.ts'
import { readJsonObject } from './read-json-object.ts'

/** Parameters of a REST method, sent as a JSON body. */
export type RestParams = Record<string, unknown>

/** How one call waits and ends. */
export interface CallOptions {
  /** Aborts the call, its waits included: it throws the signal's reason. */
  signal?: AbortSignal
  /** Every wait for something outside the call (its portal's bucket, a held method) goes through it; waits as it is when not given. */
  wait?: Wait
}

/** What one request came to: its result, or the error it failed with; and the answer's `time`, if any. */
interface Answer {
  error: BitrixError | null
  result: unknown
  time: unknown
}

/** The result of an answer, or its error thrown. */
function unwrap<T>(answer: Answer): T {
  if (answer.error) throw answer.error
  return answer.result as T
}

export interface RestClientOptions {
  /** How long one call may take before it fails with `TIMEOUT`, in ms. */
  timeoutMs: number
  /** Gets one debug line per call: method, status, time; never the URL or a token. */
  logger?: Logger
  /** Paces the calls by their portal's bucket and sends limited ones again (see {@link RestClient.call}); without it, each call is sent at once, and a limited one throws. */
  pacer?: Pacer
}

// Method names are dotted words (`imbot.v2.Chat.Message.send`): nothing else may reach the URL path.
const METHOD = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/

/**
 * Calls Bitrix24 REST methods on one target, JSON in and out. `{result}` is returned;
 * `{error, error_description}`, an HTTP error, no answer or a timeout throw a {@link BitrixError}
 * with the Bitrix24 code.
 */
export class RestClient {
  readonly #target: RestTarget
  readonly #options: RestClientOptions

  constructor(target: RestTarget, options: RestClientOptions) {
    this.#target = target
    this.#options = options
  }

  get target(): RestTarget {
    return this.#target
  }

  /**
   * Calls `method` with `params` and returns its `result`. With a {@link Pacer}, the call first
   * waits for its turn (its portal's bucket, a method the portal holds), and a call the portal
   * refused for a limit (`QUERY_LIMIT_EXCEEDED`, `OPERATION_TIME_LIMIT`, any HTTP 429: it was not
   * executed) waits again and is sent again, however often, until `signal` ends it or the pacer's
   * longest wait passes. A timeout or a dropped connection is never sent again: whether the call
   * took effect is unknown. `signal` aborts the call, waits included (then it throws its reason);
   * every wait goes through `wait`.
   * @throws {BitrixError}
   */
  async call<T = unknown>(method: string, params: RestParams = {}, { signal, wait }: CallOptions = {}): Promise<T> {
    if (!METHOD.test(method)) throw new BitrixError(String(method).slice(0, 100), 'INVALID_METHOD', null, 'not a REST method name')
    const pacer = this.#options.pacer
    if (!pacer) return unwrap<T>(await this.#send(method, params, signal))
    const host = this.#target.domain
    const until = pacer.deadline()
    for (;;) {
      await pacer.take(host, method, { signal, wait, until })
      const answer = await this.#send(method, params, signal)
      await pacer.answered(host, method, answer.error, answer.time)
      if (!answer.error?.rateLimited) return unwrap<T>(answer)
      this.#options.logger?.debug({ method, target: describeTarget(this.#target), error: answer.error.code }, 'bitrix24 call limited: sent again once there is room')
    }
  }

  /** One request: its result or the error it came to, and the answer's `time`; throws only the signal's reason. */
  async #send(method: string, params: RestParams, signal: AbortSignal | undefined): Promise<Answer> {
    const target = this.#target
    const body = target.kind === 'oauth' ? { ...params, auth: target.accessToken } : params
    const call = callSignal(this.#options.timeoutMs, signal)
    const started = performance.now()
    let response: Response
    let text: string
    try {
      response = await fetch(`${target.baseUrl}${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: call.signal,
      })
      text = await response.text()
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      const code = call.timedOut ? 'TIMEOUT' : 'NETWORK_ERROR'
      const cause = error as Error & { cause?: { code?: string } }
      // Only the error's code: undici's messages can carry the request URL.
      const reason = call.timedOut ? `no answer within ${this.#options.timeoutMs} ms` : (cause.cause?.code ?? 'the connection failed')
      this.#log(method, null, started, code)
      return { error: new BitrixError(method, code, null, reason), result: undefined, time: undefined }
    } finally {
      call.release()
    }
    const reply = readJsonObject(text)
    const time = reply?.time
    this.#log(method, response.status, started, typeof reply?.error === 'string' ? reply.error : undefined)
    const failed = (code: string, description: string) => ({ error: new BitrixError(method, code, response.status, description), result: undefined, time })
    if (reply && typeof reply.error === 'string') return failed(reply.error, typeof reply.error_description === 'string' ? reply.error_description : '')
    if (!response.ok) return failed(response.status === 429 ? 'QUERY_LIMIT_EXCEEDED' : `HTTP_${response.status}`, '')
    if (!reply || !('result' in reply)) return failed('ERROR_UNEXPECTED_ANSWER', 'the answer has no result')
    return { error: null, result: reply.result, time }
  }

  #log(method: string, status: number | null, started: number, error?: string): void {
    this.#options.logger?.debug({ method, target: describeTarget(this.#target), status, error, ms: Math.round(performance.now() - started) }, 'bitrix24 call')
  }
}
