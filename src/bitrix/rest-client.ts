import type { Logger } from 'pino'
import { BitrixError } from './bitrix-error.ts'
import { describeTarget, type RestTarget } from './rest-target.ts'
import { readJsonObject } from './read-json-object.ts'

/** Parameters of a REST method, sent as a JSON body. */
export type RestParams = Record<string, unknown>

export interface RestClientOptions {
  /** How long one call may take before it fails with `TIMEOUT`, in ms. */
  timeoutMs: number
  /** Gets one debug line per call: method, status, time; never the URL or a token. */
  logger?: Logger
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
   * Calls `method` with `params`; `signal` aborts it (then it throws the signal's reason).
   * @throws {BitrixError}
   */
  async call<T = unknown>(method: string, params: RestParams = {}, signal?: AbortSignal): Promise<T> {
    if (!METHOD.test(method)) throw new BitrixError(String(method).slice(0, 100), 'INVALID_METHOD', null, 'not a REST method name')
    const target = this.#target
    const body = target.kind === 'oauth' ? { ...params, auth: target.accessToken } : params
    const timeout = AbortSignal.timeout(this.#options.timeoutMs)
    const started = performance.now()
    let response: Response
    let text: string
    try {
      response = await fetch(`${target.baseUrl}${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      })
      text = await response.text()
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      const code = timeout.aborted ? 'TIMEOUT' : 'NETWORK_ERROR'
      const cause = error as Error & { cause?: { code?: string } }
      // Only the error's code: undici's messages can carry the request URL.
      const reason = timeout.aborted ? `no answer within ${this.#options.timeoutMs} ms` : (cause.cause?.code ?? 'the connection failed')
      this.#log(method, null, started, code)
      throw new BitrixError(method, code, null, reason)
    }
    const reply = readJsonObject(text)
    this.#log(method, response.status, started, typeof reply?.error === 'string' ? reply.error : undefined)
    if (reply && typeof reply.error === 'string') {
      throw new BitrixError(method, reply.error, response.status, typeof reply.error_description === 'string' ? reply.error_description : '')
    }
    if (!response.ok) throw new BitrixError(method, response.status === 429 ? 'QUERY_LIMIT_EXCEEDED' : `HTTP_${response.status}`, response.status, '')
    if (!reply || !('result' in reply)) throw new BitrixError(method, 'ERROR_UNEXPECTED_ANSWER', response.status, 'the answer has no result')
    return reply.result as T
  }

  #log(method: string, status: number | null, started: number, error?: string): void {
    this.#options.logger?.debug({ method, target: describeTarget(this.#target), status, error, ms: Math.round(performance.now() - started) }, 'bitrix24 call')
  }
}
