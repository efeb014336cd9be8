import { FakePortalRefusal } from '../../src/fake-portal/fake-portals.ts'
// A stand-in Bitrix24 portal that enforces the documented REST limits (bitrix24/b24restdocs
// limits.md; api-reference/how-to-call-rest-api/batch.md; chat-bots-v2 imbot.v2 messages/
// chat-message-send.md, ui/chat-input-action-notify.md): its request bucket (./leaky-bucket.ts)
// and each method's operating time (./operating-time.ts). For tests and the outbound benchmark
// (bench/outbound.ts): it answers as a portal does at `http://HOST:PORT/rest/METHOD` (an OAuth
// call, `auth` in the JSON body), counts what it was asked, executed and refused, and keeps every
// message a bot sent, so "answered exactly once" can be checked. Where the docs are silent the
// choice is noted as ours.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import qs from 'qs'
import { DEFAULT_BUCKET_RATE, LeakyBucket, type BucketRate } from './leaky-bucket.ts'
import { DEFAULT_OPERATING_LIMIT_S, OperatingTime } from './operating-time.ts'

export interface LimitedPortalOptions {
  /** The loopback address it listens on (127.0.0.1 by default; any of 127.0.0.0/8 on Linux): its domain is `HOST:PORT`. */
  host?: string
  /** The bucket's plan: 2/50 by default. */
  rate?: BucketRate
  /** Seconds of one method's execution time allowed per ten minutes (480 by default). */
  operatingLimitS?: number
  /** Seconds of execution time a call of `method` counts (0.01 by default): what `time.processing` says. */
  cost?: (method: string) => number
  /** The access token its calls must carry (a random one by default): the one its events bring. */
  accessToken?: string
  /** Epoch ms: the system's clock by default. */
  now?: () => number
}

/** What the portal was asked: HTTP requests (a batch is one), method executions (a batch's each), and refusals by code (a batch's inner ones too). */
export interface PortalCounts {
  calls: number
  executed: number
  refused: Record<string, number>
}

/** A method the portal executed, without its token. */
export interface ExecutedCall {
  method: string
  params: Record<string, unknown>
  /** Epoch ms, on the portal's clock. */
  at: number
}

/** A message a bot sent (`imbot.v2.Chat.Message.send`, executed). */
export interface SentMessage {
  id: number
  botId: number
  dialogId: string
  text: string
  at: number
}

/** The codes a test may make the portal answer the next calls of a method with, as it would. */
export type LimitCode = 'QUERY_LIMIT_EXCEEDED' | 'OPERATION_TIME_LIMIT'


const LIMITS: Record<LimitCode, FakePortalRefusal> = {
  QUERY_LIMIT_EXCEEDED: new FakePortalRefusal(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests'),
  OPERATION_TIME_LIMIT: new FakePortalRefusal(429, 'OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.'),
}

/** The docs: at most 50 requests in one batch. */
const BATCH_MAX = 50
const METHOD_PATH = /^\/rest\/([A-Za-z0-9_.]+?)(?:\.json)?$/

const isoDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00')
/** PHP's empty array: how Bitrix24 writes an empty map in JSON. */
const orEmpty = (map: Record<string, unknown>) => (Object.keys(map).length === 0 ? [] : map)

export class LimitedPortal {
  /** `http://HOST:PORT`. */
  readonly url: string
  /** `HOST:PORT`: the domain its events name. */
  readonly domain: string
  /** `http://HOST:PORT/rest/`: the `client_endpoint` its events name. */
  readonly restEndpoint: string
  readonly memberId = randomBytes(16).toString('hex')
  readonly accessToken: string
  readonly bucket: LeakyBucket
  readonly operating: OperatingTime
  readonly counts: PortalCounts = { calls: 0, executed: 0, refused: {} }
  readonly executed: ExecutedCall[] = []
  readonly messages: SentMessage[] = []

  readonly #server: Server
  readonly #now: () => number
  readonly #cost: (method: string) => number
  readonly #refusals: Array<{ method: string; code: LimitCode }> = []

  private constructor(server: Server, options: LimitedPortalOptions) {
    this.#server = server
    this.#now = options.now ?? Date.now
    this.#cost = options.cost ?? (() => 0.01)
    this.accessToken = options.accessToken ?? randomBytes(16).toString('hex')
    this.bucket = new LeakyBucket(this.#now, options.rate ?? DEFAULT_BUCKET_RATE)
    this.operating = new OperatingTime(this.#now, options.operatingLimitS ?? DEFAULT_OPERATING_LIMIT_S)
    const { address, port } = server.address() as AddressInfo
    this.domain = `${address}:${port}`
    this.url = `http://${this.domain}`
    this.restEndpoint = `${this.url}/rest/`
  }

  static async start(options: LimitedPortalOptions = {}): Promise<LimitedPortal> {
    const server = createServer()
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, options.host ?? '127.0.0.1', resolve)
    })
    const portal = new LimitedPortal(server, options)
    server.on('request', (request, response) => void portal.#serve(request, response))
    return portal
  }

  /** The next `times` calls of `method` (a batch's inner ones too) are refused with `code` and not executed, whatever the limits say. */
  refuseNext(method: string, code: LimitCode, times = 1): void {
    for (let i = 0; i < times; i++) this.#refusals.push({ method, code })
  }

  close(): Promise<void> {
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let text = ''
    for await (const chunk of request) text += (chunk as Buffer).toString()
    this.counts.calls++
    const answer = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    try {
      const method = METHOD_PATH.exec(new URL(request.url as string, this.url).pathname)?.[1]
      if (request.method !== 'POST' || method === undefined) throw new FakePortalRefusal(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!')
      // Every request raises the counter (the docs), whatever comes of it after.
      if (!this.bucket.take()) throw LIMITS.QUERY_LIMIT_EXCEEDED
      const { auth, ...params } = readBody(text)
      if (typeof auth !== 'string' || auth === '') throw new FakePortalRefusal(401, 'NO_AUTH_FOUND', 'Wrong authorization data')
      if (auth !== this.accessToken) throw new FakePortalRefusal(401, 'invalid_token', 'The access token provided is invalid')
      const result = method === 'batch' ? this.#batch(params) : this.#execute(method, params)
      answer(200, { result, time: this.#time(method, method === 'batch' ? 0 : this.#cost(method)) })
    } catch (error) {
      const refusal = error as FakePortalRefusal
      this.#count(refusal)
      answer(refusal.status, { error: refusal.code, error_description: refusal.message })
    }
  }

  #count(refusal: FakePortalRefusal): void {
    this.counts.refused[refusal.code] = (this.counts.refused[refusal.code] ?? 0) + 1
  }

  /** One method, past the bucket: a refusal the test asked for, the method's operating time, then the method itself, whose time is counted. */
  #execute(method: string, params: Record<string, unknown>): unknown {
    const asked = this.#refusals.findIndex((refusal) => refusal.method === method)
    if (asked >= 0) throw LIMITS[(this.#refusals.splice(asked, 1)[0] as { code: LimitCode }).code]
    if (this.operating.refusedUntil(method) !== null) throw LIMITS.OPERATION_TIME_LIMIT
    const result = this.#method(method, params)
    this.operating.spend(method, this.#cost(method))
    this.counts.executed++
    this.executed.push({ method, params, at: this.#now() })
    return result
  }

  #method(method: string, params: Record<string, unknown>): unknown {
    switch (method) {
      case 'imbot.v2.Chat.Message.send': {
        const { botId, dialogId } = botCall(params)
        const fields = (params.fields ?? {}) as Record<string, unknown>
        if (!fields.message && !fields.attach) throw new FakePortalRefusal(400, 'EMPTY_MESSAGE', 'Message is empty')
        const id = this.messages.length + 1
        this.messages.push({ id, botId, dialogId, text: String(fields.message ?? ''), at: this.#now() })
        return { id, uuidMap: [] }
      }
      case 'imbot.v2.Chat.InputAction.notify':
        botCall(params)
        return true
      default:
        throw new FakePortalRefusal(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!')
    }
  }

  /**
   * `batch`: up to 50 calls (`cmd`, a map or a list of `METHOD?QUERY`), one bucket slot for all;
   * each executed as alone (a refusal of its own, its own operating time; the outer call counts
   * none), its error under `result_error`; `halt` stops at the first. Nesting is refused (rest 24).
   * `$result[...]` references to earlier answers are not resolved (ours: no test needs them).
   */
  #batch(params: Record<string, unknown>): unknown {
    const cmd = params.cmd
    if (typeof cmd !== 'object' || cmd === null) throw new FakePortalRefusal(400, 'ERROR_BATCH_EMPTY', 'cmd is empty')
    const calls = Object.entries(cmd as Record<string, unknown>)
    if (calls.length > BATCH_MAX) throw new FakePortalRefusal(400, 'ERROR_BATCH_LENGTH_EXCEEDED', `Max batch length exceeded (${BATCH_MAX})`)
    const halt = params.halt === true || params.halt === 1 || params.halt === '1' || params.halt === 'Y'
    const results: Record<string, unknown> = {}
    const errors: Record<string, unknown> = {}
    const times: Record<string, unknown> = {}
    for (const [key, line] of calls) {
      const [method = '', query = ''] = String(line).split(/\?(.*)/s)
      try {
        if (method === 'batch') throw new FakePortalRefusal(400, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage')
        results[key] = this.#execute(method, qs.parse(query, { depth: 10, arrayLimit: 100 }) as Record<string, unknown>)
        times[key] = this.#time(method, this.#cost(method))
      } catch (error) {
        const refusal = error as FakePortalRefusal
        this.#count(refusal)
        errors[key] = { error: refusal.code, error_description: refusal.message }
        if (halt) break
      }
    }
    return { result: orEmpty(results), result_error: orEmpty(errors), result_total: [], result_next: [], result_time: orEmpty(times) }
  }

  /** An answer's `time`, with the method's operating figures (the docs: every answer carries them). */
  #time(method: string, seconds: number): Record<string, unknown> {
    const now = this.#now()
    return {
      start: now / 1000,
      finish: now / 1000 + seconds,
      duration: seconds,
      processing: seconds,
      date_start: isoDate(now),
      date_finish: isoDate(now + seconds * 1000),
      ...this.operating.figures(method),
    }
  }
}

/** The bot and dialog an `imbot.v2.Chat.*` call names, checked as the methods check them. */
function botCall(params: Record<string, unknown>): { botId: number; dialogId: string } {
  const botId = Number(params.botId)
  if (!Number.isInteger(botId) || botId <= 0) throw new FakePortalRefusal(400, 'BOT_ID_REQUIRED', 'Bot ID is required')
  if (typeof params.dialogId !== 'string' || params.dialogId === '') throw new FakePortalRefusal(400, 'DIALOG_ID_EMPTY', 'Dialog ID is empty') // our code: the docs name none
  return { botId, dialogId: params.dialogId }
}

/** The JSON body as an object (nothing, or anything else, as none). */
function readBody(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
