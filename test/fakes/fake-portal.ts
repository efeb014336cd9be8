// A fake Bitrix24 portal's REST API for the tests, following the documented semantics
// (bitrix24/b24restdocs: chat-bots-v2 im.v2/events/event-get.md, event-subscribe.md,
// imbot.v2/events/event-get.md, messages/chat-message-send.md, commands/command-answer.md,
// _includes/system-errors.md; how-to-call-rest-api/batch.md). Where the docs are silent the choice is noted as ours.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseForm } from '../../src/wire/parse-form.ts'

export interface FakeBot {
  id: number
  code: string
  token: string
}

export interface FakeBitrixOptions {
  /** The inbound webhook's user (default 1). */
  userId?: number
  webhookSecret?: string
  accessToken?: string
  /** Bots registered by our application (default bot 456 with token `bot-token-456`). */
  bots?: FakeBot[]
  /** Bots registered by another application: BOT_OWNERSHIP_ERROR. */
  foreignBotIds?: number[]
  /** How long an unconfirmed event is kept (default 24 h, im.v2.Event.subscribe). */
  retentionMs?: number
}

export interface FakeCall {
  method: string
  params: Record<string, unknown>
  /** `Date.now()` when it arrived. */
  at: number
  auth: 'webhook' | 'oauth' | 'none'
  status: number
  /** What the method returned (set when it succeeded, even if its answer is held or lost). */
  result?: unknown
}

/**
 * What an injected call gets instead of its answer: an error reply; `drop`, the connection cut
 * before anything happens; `hold`, the call takes effect (an offset confirms) but its answer
 * waits for {@link FakeBitrix.release}: the client may give up first (a timeout, an abort).
 */
export type FakeFault = { status: number; error: string; description?: string } | { hold: true } | { drop: true }

interface StoredEvent {
  eventId: number
  type: string
  date: string
  data: Record<string, unknown>
  storedAt: number
}

class MethodError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, description: string) {
    super(description)
    this.status = status
    this.code = code
  }
}

const truthy = (value: unknown) => value === true || value === 'Y' || value === 1 || value === '1' || value === 'true'
const isoDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00')

export class FakeBitrix {
  readonly url: string
  readonly webhookUrl: string
  readonly restEndpoint: string
  readonly accessToken: string
  readonly calls: FakeCall[] = []
  readonly sent: Array<{ method: string; params: Record<string, unknown> }> = []

  readonly #server: Server
  readonly #userId: number
  readonly #secret: string
  readonly #bots: Map<number, FakeBot>
  readonly #foreign: Set<number>
  readonly #retentionMs: number
  #subscribed = false
  #nextId = 1001
  #nextMessageId = 90001
  #clockOffset = 0
  readonly #userQueue: StoredEvent[] = []
  readonly #botQueues = new Map<number, StoredEvent[]>()
  readonly #faults: Array<{ method: string; fault: FakeFault }> = []
  readonly #held: Array<{ call: FakeCall; answer: () => void }> = []
  readonly #listeners = new Set<(call: FakeCall) => unknown>()
  #rate: { perSecond: number; burst: number; buckets: Map<string, { tokens: number; at: number }> } | null = null

  private constructor(server: Server, options: Required<FakeBitrixOptions>) {
    this.#server = server
    this.#userId = options.userId
    this.#secret = options.webhookSecret
    this.accessToken = options.accessToken
    this.#bots = new Map(options.bots.map((bot) => [bot.id, bot]))
    this.#foreign = new Set(options.foreignBotIds)
    this.#retentionMs = options.retentionMs
    const { port } = server.address() as AddressInfo
    this.url = `http://127.0.0.1:${port}`
    this.webhookUrl = `${this.url}/rest/${this.#userId}/${this.#secret}/`
    this.restEndpoint = `${this.url}/rest/`
  }

  static async start(options: FakeBitrixOptions = {}): Promise<FakeBitrix> {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const fake = new FakeBitrix(server, {
      userId: options.userId ?? 1,
      webhookSecret: options.webhookSecret ?? randomBytes(8).toString('hex'),
      accessToken: options.accessToken ?? randomBytes(16).toString('hex'),
      bots: options.bots ?? [{ id: 456, code: 'support_bot', token: 'bot-token-456' }],
      foreignBotIds: options.foreignBotIds ?? [],
      retentionMs: options.retentionMs ?? 24 * 3600 * 1000,
    })
    server.on('request', (request, response) => void fake.#serve(request, response))
    return fake
  }

  /** As if `im.v2.Event.subscribe` had been called for the webhook user. */
  subscribe(): void {
    this.#subscribed = true
  }

  /** An `ONIMV2*` event for the webhook user: recorded only while subscribed (the docs). */
  pushUserEvent(type: string, data: Record<string, unknown>): number | null {
    if (!this.#subscribed) return null
    return this.#push(this.#userQueue, type, data)
  }

  /** An `ONIMBOTV2*` event for a bot. */
  pushBotEvent(botId: number, type: string, data: Record<string, unknown>): number {
    const queue = this.#botQueues.get(botId) ?? []
    this.#botQueues.set(botId, queue)
    return this.#push(queue, type, data)
  }

  /** The next `times` calls of `method` (`*`: any) get this fault instead of their answer. */
  inject(method: string, fault: FakeFault, times = 1): void {
    for (let i = 0; i < times; i++) this.#faults.push({ method, fault })
  }

  /** Forgets the faults not used yet. */
  clearFaults(): void {
    this.#faults.length = 0
  }

  /** Calls whose answer a `hold` fault keeps back, oldest first (their client may be gone). */
  held(): FakeCall[] {
    return this.#held.map((entry) => entry.call)
  }

  /** Sends the held answers, to the clients still waiting; how many were held. */
  release(): number {
    const held = this.#held.splice(0)
    for (const entry of held) entry.answer()
    return held.length
  }

  /**
   * Calls `listener` as each call arrives; the call takes effect once what it returns settles
   * (a test can look at the client's state at that moment). Returns the unsubscribe.
   */
  onCall(listener: (call: FakeCall) => unknown): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** A token bucket per credentials, filled on the fake's clock; over it, HTTP 429 `QUERY_LIMIT_EXCEEDED`. `null`: off. */
  rateLimit(perSecond: number | null, burst = 1): void {
    this.#rate = perSecond === null ? null : { perSecond, burst, buckets: new Map() }
  }

  /** Moves the fake's clock (retention, rate-limit refill) forward. */
  advance(ms: number): void {
    this.#clockOffset += ms
  }

  /** Event ids still stored for the user queue or a bot's queue. */
  unconfirmed(queue: 'user' | number): number[] {
    return this.#live(queue === 'user' ? this.#userQueue : (this.#botQueues.get(queue) ?? [])).map((event) => event.eventId)
  }

  close(): Promise<void> {
    this.#held.length = 0
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }

  #now(): number {
    return Date.now() + this.#clockOffset
  }

  #push(queue: StoredEvent[], type: string, data: Record<string, unknown>): number {
    const eventId = this.#nextId++
    const now = this.#now()
    queue.push({ eventId, type, date: isoDate(now), data: structuredClone(data), storedAt: now })
    return eventId
  }

  /** A queue without what outlived the retention. */
  #live(queue: StoredEvent[]): StoredEvent[] {
    const oldest = this.#now() - this.#retentionMs
    while (queue.length > 0 && (queue[0] as StoredEvent).storedAt <= oldest) queue.shift()
    return queue
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let text = ''
    for await (const chunk of request) text += (chunk as Buffer).toString()
    const params = readParams(text, request.headers['content-type'])
    const path = new URL(request.url ?? '/', this.url).pathname
    const webhook = /^\/rest\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path)
    const oauth = /^\/rest\/([^/]+)$/.exec(path)
    const method = (webhook?.[3] ?? oauth?.[1] ?? '').replace(/\.json$/, '')
    const auth: FakeCall['auth'] = webhook ? 'webhook' : typeof params.auth === 'string' ? 'oauth' : 'none'
    const { auth: _token, ...shown } = params
    const call: FakeCall = { method, params: shown, at: Date.now(), auth, status: 200 }
    this.calls.push(call)
    for (const listener of [...this.#listeners]) await listener(call)
    const answer = (status: number, body: unknown) => {
      call.status = status
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    const fail = (error: MethodError) => answer(error.status, { error: error.code, error_description: error.message })

    const faultAt = this.#faults.findIndex((entry) => entry.method === '*' || entry.method === method)
    const fault = faultAt >= 0 ? this.#faults.splice(faultAt, 1)[0]?.fault : undefined
    if (fault && 'drop' in fault) return void request.socket.destroy()
    if (fault && 'status' in fault) return fail(new MethodError(fault.status, fault.error, fault.description ?? ''))
    try {
      const credential = this.#authenticate(webhook, params)
      this.#throttle(credential)
      const result = this.#call(method, params, auth)
      call.result = result
      const started = Date.now() / 1000
      const reply = () => answer(200, { result, time: { start: started, finish: Date.now() / 1000, duration: 0, processing: 0, date_start: isoDate(started * 1000), date_finish: isoDate(Date.now()) } })
      // A late answer: the call took effect (an offset confirmed), the client may give up first.
      if (fault && 'hold' in fault) this.#held.push({ call, answer: () => (response.destroyed ? undefined : reply()) })
      else reply()
    } catch (error) {
      if (!(error instanceof MethodError)) throw error
      fail(error)
    }
  }

  #authenticate(webhook: RegExpExecArray | null, params: Record<string, unknown>): string {
    if (webhook) {
      if (webhook[1] !== String(this.#userId) || webhook[2] !== this.#secret) throw new MethodError(401, 'INVALID_CREDENTIALS', 'Invalid request credentials')
      return `webhook:${webhook[2]}`
    }
    if (typeof params.auth !== 'string' || params.auth === '') throw new MethodError(401, 'NO_AUTH_FOUND', 'Wrong authorization data')
    if (params.auth !== this.accessToken) throw new MethodError(401, 'invalid_token', 'The access token provided is invalid')
    return `oauth:${params.auth}`
  }

  #throttle(credential: string): void {
    if (!this.#rate) return
    const now = this.#now()
    const bucket = this.#rate.buckets.get(credential) ?? { tokens: this.#rate.burst, at: now }
    bucket.tokens = Math.min(this.#rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate.perSecond)
    bucket.at = now
    this.#rate.buckets.set(credential, bucket)
    if (bucket.tokens < 1) throw new MethodError(429, 'QUERY_LIMIT_EXCEEDED', 'Too many requests')
    bucket.tokens -= 1
  }

  #call(method: string, params: Record<string, unknown>, auth: FakeCall['auth']): unknown {
    switch (method) {
      case 'im.v2.Event.subscribe':
        this.#subscribed = true
        return true
      case 'im.v2.Event.get':
        // Not subscribed: an empty list, not an error (the docs).
        return this.#read(this.#subscribed ? [this.#userQueue] : [], params)
      case 'imbot.v2.Event.get': {
        const queue = this.#bot(params, auth)
        if (!truthy(params.withUserEvents)) return this.#read([queue], params)
        if (!this.#subscribed) throw new MethodError(400, 'USER_NOT_SUBSCRIBED', 'User not subscribed')
        return this.#read([queue, this.#userQueue], params)
      }
      case 'imbot.v2.Chat.Message.send': {
        this.#bot(params, auth)
        if (!params.dialogId) throw new MethodError(400, 'DIALOG_ID_EMPTY', 'Dialog ID is empty') // our code: the docs name none
        const fields = (params.fields ?? {}) as Record<string, unknown>
        if (!fields.message && !fields.attach) throw new MethodError(400, 'EMPTY_MESSAGE', 'Message is empty')
        this.sent.push({ method, params: { ...params } })
        return { id: this.#nextMessageId++, uuidMap: {} }
      }
      case 'batch':
        return this.#batch(params, auth)
      case 'imbot.v2.Command.answer':
        this.#bot(params, auth)
        if (!params.commandId || !params.messageId) throw new MethodError(400, 'COMMAND_ANSWER_FAILED', 'Command answer failed')
        this.sent.push({ method, params: { ...params } })
        return { result: true }
      default:
        throw new MethodError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!')
    }
  }

  /**
   * `batch`: up to 50 `method?query` commands (the query as PHP's `http_build_query` writes it),
   * run in order with the request's credentials; each answer or error under its key, the rest
   * going on unless `halt`. A status fault injected for a command's method is its error. A batch
   * counts once in the rate limit (limits.md). Maps keyed 0..n-1 come back as lists, an empty one
   * as `[]`, as PHP's `json_encode` writes them.
   */
  #batch(params: Record<string, unknown>, auth: FakeCall['auth']) {
    const commands = typeof params.cmd === 'object' && params.cmd !== null ? Object.entries(params.cmd as Record<string, unknown>) : []
    if (commands.length > 50) throw new MethodError(400, 'ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded')
    const results: Record<string, unknown> = {}
    const errors: Record<string, unknown> = {}
    const times: Record<string, unknown> = {}
    for (const [key, command] of commands) {
      const text = String(command)
      const at = text.indexOf('?')
      const method = at < 0 ? text : text.slice(0, at)
      try {
        if (method === 'batch') throw new MethodError(405, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage')
        const faultAt = this.#faults.findIndex((entry) => entry.method === method && 'status' in entry.fault)
        const fault = faultAt >= 0 ? (this.#faults.splice(faultAt, 1)[0]?.fault as { status: number; error: string; description?: string }) : undefined
        if (fault) throw new MethodError(fault.status, fault.error, fault.description ?? '')
        results[key] = this.#call(method, { ...parseForm(at < 0 ? '' : text.slice(at + 1)) }, auth)
        times[key] = { start: Date.now() / 1000, finish: Date.now() / 1000, duration: 0, processing: 0 }
      } catch (error) {
        if (!(error instanceof MethodError)) throw error
        errors[key] = { error: error.code, error_description: error.message }
        if (truthy(params.halt)) break
      }
    }
    return { result: phpJson(results), result_error: phpJson(errors), result_total: [], result_next: [], result_time: phpJson(times) }
  }

  /** The bot a call is for, checked as imbot.v2 methods check it; its queue. */
  #bot(params: Record<string, unknown>, auth: FakeCall['auth']): StoredEvent[] {
    if (params.botId === undefined || params.botId === null || params.botId === '') throw new MethodError(400, 'BOT_ID_REQUIRED', 'Bot ID is required')
    const id = Number(params.botId)
    if (this.#foreign.has(id)) throw new MethodError(403, 'BOT_OWNERSHIP_ERROR', 'Bot is registered by another application')
    const bot = this.#bots.get(id)
    if (!bot) throw new MethodError(400, 'BOT_NOT_FOUND', 'Bot not found')
    if (auth === 'webhook') {
      if (!params.botToken) throw new MethodError(400, 'BOT_TOKEN_NOT_SPECIFIED', 'Bot token is not specified')
      if (params.botToken !== bot.token) throw new MethodError(400, 'BOT_NOT_FOUND', 'Bot not found') // ours: the docs name no code for a wrong token
    }
    const queue = this.#botQueues.get(id) ?? []
    this.#botQueues.set(id, queue)
    return queue
  }

  /** `Event.get`: confirm below `offset` (for every reader), then the oldest `limit` events. */
  #read(queues: StoredEvent[][], params: Record<string, unknown>) {
    const limit = params.limit === undefined ? 100 : Number(params.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new MethodError(400, 'INVALID_LIMIT', 'limit must be 1-1000') // our code
    const offset = params.offset === undefined ? null : Number(params.offset)
    for (const queue of queues) {
      this.#live(queue)
      if (offset !== null) while (queue.length > 0 && (queue[0] as StoredEvent).eventId < offset) queue.shift()
    }
    const waiting = queues.flat().sort((a, b) => a.eventId - b.eventId)
    const events = waiting.slice(0, limit).map(({ eventId, type, date, data }) => ({ eventId, type, date, data }))
    const last = events.at(-1)
    return { events, nextOffset: last ? last.eventId + 1 : (offset ?? this.#nextId), hasMore: waiting.length > events.length }
  }
}

/** A map as PHP's `json_encode` writes an array: keys 0..n-1 (or none) as a list, any others as an object. */
function phpJson(map: Record<string, unknown>): unknown {
  const keys = Object.keys(map)
  return keys.every((key, index) => key === String(index)) ? Object.values(map) : map
}

function readParams(text: string, contentType: string | undefined): Record<string, unknown> {
  if (text.trim() === '') return {}
  if (contentType?.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text))
  const value: unknown = JSON.parse(text)
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
}
