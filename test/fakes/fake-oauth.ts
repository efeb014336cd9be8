// A fake Bitrix24 OAuth server (oauth.bitrix.info) and the REST API of the application's portals,
// on one loopback port, for the tests of application mode. It follows the documented semantics
// (bitrix24/b24restdocs: settings/oauth/index.md, auto-renewal.md, error-codes.md;
// api-reference/common/system/app-info.md; api-reference/common/events/on-app-install.md,
// on-app-update.md, on-app-uninstall.md; ../shared/APPS.md). Where the docs are silent the choice
// is noted as ours.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ChatEventType } from '../../schemas/event-data.ts'
import { samplePayload } from '../../src/simulate/sample-payload.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { parseForm } from '../../src/wire/parse-form.ts'

export interface FakeOAuthOptions {
  /** The application's `client_id`; `local.fake0000000000.00000000`. */
  clientId?: string
  /** Its `client_secret`; random. */
  clientSecret?: string
}

export interface InstallOptions {
  /** Random by default. */
  memberId?: string
  /** `portal-N.bitrix24.com` by default. */
  domain?: string
  /** The application installed: another `client_id` than the fake's forges "another application". */
  clientId?: string
  /** `imbot,im` by default. */
  scope?: string
  /** 1 by default. */
  version?: number
}

/** What an install issued: the facts of its `ONAPPINSTALL` (see {@link FakeOAuth.installBody}). */
export interface FakeInstall {
  memberId: string
  domain: string
  /** This server's `http://127.0.0.1:PORT/portal/MEMBER/rest/`. */
  clientEndpoint: string
  accessToken: string
  refreshToken: string
  applicationToken: string
  /** Seconds the access token lives: 3600. */
  expiresIn: number
  /** When the access token expires, unix seconds (`auth[expires]`). */
  expires: number
  scope: string
  version: number
  clientId: string
}

/** A portal as the fake holds it now. */
export interface FakeAppPortal {
  memberId: string
  domain: string
  clientId: string
  scope: string
  version: number
  clientEndpoint: string
  applicationToken: string
  /** The access token of the latest pair (install or refresh). */
  accessToken: string
  /** The refresh token of the latest pair, or `null` once used, revoked or uninstalled. */
  refreshToken: string | null
  /** Which pair is the latest: 0 the install's, n after n refreshes. */
  generation: number
  refreshes: number
  installed: boolean
}

/** Which pair a token belongs to: 0 the install's, n the n-th refresh's, `event` one an event carried. */
export type Generation = number | 'event'

/** One request, without the secrets it carried (`auth`, `client_secret`, `refresh_token`). */
export interface FakeOAuthCall {
  endpoint: 'app.info' | 'oauth.token' | 'rest' | 'unknown'
  verb: string
  /** The portal of the token used (or of the REST path), when known. */
  memberId: string | null
  /** The REST method (`rest` only). */
  method: string | null
  params: Record<string, unknown>
  /** The pair of the token used, `null` for a token the fake does not know. */
  generation: Generation | null
  /** `null` while no answer was sent. */
  status: number | null
  error: string | null
  at: number
}

/** How the OAuth endpoints fail: `503` (an empty 503), `hang` (no answer until `fail('none')` or `close`). */
export type FakeOAuthFailure = 'none' | '503' | 'hang'

/** Extra or replaced fields of a body: top-level keys replace, `data` and `auth` merge (a `null` removes). */
export interface BodyExtra {
  data?: Record<string, PhpValue>
  auth?: Record<string, PhpValue>
  [key: string]: PhpValue
}

interface Grant {
  memberId: string
  generation: Generation
  expiresAt: number
}

interface PortalState extends Omit<FakeAppPortal, 'refreshToken'> {
  refreshToken: string | null
}

class Refusal extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, description: string) {
    super(description)
    this.status = status
    this.code = code
  }
}

const ACCESS_TTL_MS = 3600 * 1000
/** The docs: 180 days (28 in older pages). */
const REFRESH_TTL_MS = 180 * 24 * 3600 * 1000
const SECRET_PARAMS = new Set(['auth', 'client_secret', 'refresh_token'])

const token = () => randomBytes(16).toString('hex')
const unix = (ms: number) => Math.floor(ms / 1000)
const isoDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00')

export class FakeOAuth {
  readonly clientId: string
  readonly clientSecret: string
  /** Every request, oldest first. */
  readonly calls: FakeOAuthCall[] = []

  // A bug of the fake cuts the connection rather than crash the test run with an unhandled rejection.
  readonly #server: Server = createServer((request, response) => void this.#serve(request, response).catch(() => response.destroy()))
  #url: string | null = null
  readonly #portals = new Map<string, PortalState>()
  readonly #access = new Map<string, Grant>()
  readonly #refresh = new Map<string, Grant>()
  /** Refresh tokens used or revoked: refused, but the calls still say which pair they were. */
  readonly #spent = new Map<string, Grant>()
  #failure: FakeOAuthFailure = 'none'
  #delayMs = 0
  readonly #hanging: Array<() => void> = []
  readonly #timers = new Set<NodeJS.Timeout>()
  #installs = 0

  constructor(options: FakeOAuthOptions = {}) {
    this.clientId = options.clientId ?? 'local.fake0000000000.00000000'
    this.clientSecret = options.clientSecret ?? token()
  }

  /** The OAuth server's base, `http://127.0.0.1:PORT` (B24_OAUTH_URL). */
  get url(): string {
    if (this.#url === null) throw new Error('FakeOAuth: start() it first')
    return this.#url
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
    return this
  }

  /** Stops at once: hanging and delayed requests are cut, not waited for. */
  close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    this.#hanging.length = 0
    this.#server.closeAllConnections()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }

  /** Installs the application on a new portal: it gets its first pair of tokens and an application token. */
  install(options: InstallOptions = {}): FakeInstall {
    this.#installs += 1
    const memberId = options.memberId ?? token()
    const state: PortalState = {
      memberId,
      domain: options.domain ?? `portal-${this.#installs}.bitrix24.com`,
      clientId: options.clientId ?? this.clientId,
      scope: options.scope ?? 'imbot,im',
      version: options.version ?? 1,
      clientEndpoint: `${this.url}/portal/${memberId}/rest/`,
      applicationToken: token(),
      accessToken: '',
      refreshToken: null,
      generation: 0,
      refreshes: 0,
      installed: true,
    }
    this.#revokeAll(memberId)
    this.#portals.set(memberId, state)
    const pair = this.#issue(state, 0)
    state.accessToken = pair.accessToken
    state.refreshToken = pair.refreshToken
    const { domain, clientEndpoint, applicationToken, scope, version, clientId } = state
    return { memberId, domain, clientEndpoint, ...pair, applicationToken, expiresIn: ACCESS_TTL_MS / 1000, scope, version, clientId }
  }

  /** The `ONAPPINSTALL` form body Bitrix24 posts for an install (on-app-install.md, with the tokens real posts carry). */
  installBody(portal: FakeInstall, extra: BodyExtra = {}): string {
    const payload = {
      event: 'ONAPPINSTALL',
      data: { VERSION: String(portal.version), ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
      ts: String(unix(Date.now())),
      auth: {
        access_token: portal.accessToken,
        expires: String(portal.expires),
        expires_in: String(portal.expiresIn),
        scope: portal.scope,
        domain: portal.domain,
        server_endpoint: `${this.url}/rest/`,
        status: 'L',
        client_endpoint: portal.clientEndpoint,
        member_id: portal.memberId,
        user_id: '1',
        refresh_token: portal.refreshToken,
        application_token: portal.applicationToken,
      },
    }
    return encodeForm(merge(payload, extra))
  }

  /**
   * The application is updated on the portal; the `ONAPPUPDATE` body it posts (on-app-update.md).
   * `applicationToken` gives the portal a new one; `withTokens` (default true: an admin updates)
   * adds a freshly issued pair, as when a user is linked to the event.
   */
  updateBody(portal: { memberId: string }, options: { version?: number; applicationToken?: string; withTokens?: boolean } = {}, extra: BodyExtra = {}): string {
    const state = this.#state(portal.memberId)
    const previous = state.version
    state.version = options.version ?? previous + 1
    if (options.applicationToken !== undefined) state.applicationToken = options.applicationToken
    const payload = {
      event: 'ONAPPUPDATE',
      event_handler_id: '12',
      data: { VERSION: String(state.version), PREVIOUS_VERSION: String(previous), LANGUAGE_ID: 'en' },
      ts: String(unix(Date.now())),
      auth: { ...this.#eventAuth(state, options.withTokens ?? true), status: 'L' },
    }
    return encodeForm(merge(payload, extra))
  }

  /**
   * The application is uninstalled from the portal: every token of it dies at once (the docs: its
   * REST access is already removed when the event is sent); the `ONAPPUNINSTALL` body it posts.
   */
  uninstallBody(portal: { memberId: string }, options: { clean?: boolean } = {}, extra: BodyExtra = {}): string {
    const state = this.#state(portal.memberId)
    state.installed = false
    state.refreshToken = null
    this.#revokeAll(state.memberId)
    const { domain, clientEndpoint, memberId, applicationToken } = state
    const payload = {
      event: 'ONAPPUNINSTALL',
      data: { LANGUAGE_ID: 'en', CLEAN: options.clean ? '1' : '0' },
      ts: String(unix(Date.now())),
      auth: { domain, server_endpoint: `${this.url}/rest/`, client_endpoint: clientEndpoint, member_id: memberId, application_token: applicationToken },
    }
    return encodeForm(merge(payload, extra))
  }

  /**
   * An ordinary event of the portal (src/simulate/sample-payload.ts, shaped like the captured
   * fixtures), its `auth` the portal's: member id, domain, client endpoint, application token, and
   * a freshly issued pair of tokens (a bot's `data[bot][auth]` too).
   */
  eventBody(portal: { memberId: string }, type: ChatEventType = 'ONIMBOTV2MESSAGEADD', extra: BodyExtra = {}): string {
    const state = this.#state(portal.memberId)
    const payload = samplePayload({ type, token: state.applicationToken, portal: state.domain }) as Record<string, PhpValue> & { data: Record<string, PhpValue> }
    payload.auth = { ...this.#eventAuth(state, true), status: 'L' }
    const bot = payload.data.bot as Record<string, PhpValue> | undefined
    if (bot) bot.auth = { ...this.#eventAuth(state, true), user_id: String(bot.id), status: 'L' }
    return encodeForm(merge(payload, extra))
  }

  /** The portal's current access token expires now; older ones keep their own expiry. */
  expire(memberId: string): void {
    const grant = this.#access.get(this.#state(memberId).accessToken)
    if (grant) grant.expiresAt = Date.now()
  }

  /** The portal's refresh tokens die: the next refresh gets `invalid_grant` (reinstall needed). */
  revoke(memberId: string): void {
    this.#state(memberId).refreshToken = null
    this.#revokeRefresh(memberId)
  }

  /** How the OAuth endpoints (`app.info`, `/oauth/token/`) answer from now on; leaving `hang` answers the hanging requests. */
  fail(mode: FakeOAuthFailure): void {
    this.#failure = mode
    if (mode === 'hang') return
    for (const resume of this.#hanging.splice(0)) resume()
  }

  /** How long `/oauth/token/` waits before it takes a request up: lets concurrent refreshes overlap. */
  delay(ms: number): void {
    this.#delayMs = ms
  }

  /** The portal as it stands, or `undefined`. */
  portal(memberId: string): FakeAppPortal | undefined {
    const state = this.#portals.get(memberId)
    return state && { ...state }
  }

  /** How many refreshes the OAuth server granted the portal. */
  refreshes(memberId: string): number {
    return this.#portals.get(memberId)?.refreshes ?? 0
  }

  #state(memberId: string): PortalState {
    const state = this.#portals.get(memberId)
    if (!state) throw new Error(`FakeOAuth: no portal ${memberId}`)
    return state
  }

  #issue(state: PortalState, generation: Generation): { accessToken: string; refreshToken: string; expires: number } {
    const now = Date.now()
    const accessToken = token()
    const refreshToken = token()
    this.#access.set(accessToken, { memberId: state.memberId, generation, expiresAt: now + ACCESS_TTL_MS })
    this.#refresh.set(refreshToken, { memberId: state.memberId, generation, expiresAt: now + REFRESH_TTL_MS })
    return { accessToken, refreshToken, expires: unix(now + ACCESS_TTL_MS) }
  }

  #revokeAll(memberId: string): void {
    for (const [value, grant] of this.#access) if (grant.memberId === memberId) this.#access.delete(value)
    this.#revokeRefresh(memberId)
  }

  #revokeRefresh(memberId: string): void {
    for (const [value, grant] of this.#refresh) if (grant.memberId === memberId) this.#spend(value, grant)
  }

  #spend(value: string, grant: Grant): void {
    this.#refresh.delete(value)
    this.#spent.set(value, grant)
  }

  /** An event's `auth`: the portal's facts, and a freshly issued pair when `withTokens`. */
  #eventAuth(state: PortalState, withTokens: boolean): Record<string, string> {
    const facts = { domain: state.domain, server_endpoint: `${this.url}/rest/`, client_endpoint: state.clientEndpoint, member_id: state.memberId, application_token: state.applicationToken }
    if (!withTokens || !state.installed) return facts
    const pair = this.#issue(state, 'event')
    return { access_token: pair.accessToken, expires: String(pair.expires), expires_in: '3600', scope: state.scope, ...facts, user_id: '1', refresh_token: pair.refreshToken }
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url)
    const call: FakeOAuthCall = { endpoint: 'unknown', verb: request.method ?? 'GET', memberId: null, method: null, params: {}, generation: null, status: null, error: null, at: Date.now() }
    this.calls.push(call)
    const answer = (status: number, body: unknown, contentType = 'application/json') => {
      call.status = status
      if (response.destroyed || response.writableEnded) return
      response.writeHead(status, { 'content-type': contentType }).end(typeof body === 'string' ? body : JSON.stringify(body))
    }
    const refuse = (refusal: Refusal) => {
      call.error = refusal.code
      answer(refusal.status, { error: refusal.code, error_description: refusal.message })
    }
    let params: Record<string, unknown>
    try {
      params = { ...Object.fromEntries(url.searchParams), ...(await readBody(request)) }
    } catch {
      return refuse(new Refusal(400, 'INVALID_REQUEST', 'the body is neither JSON nor a form')) // ours
    }
    call.params = Object.fromEntries(Object.entries(params).filter(([key]) => !SECRET_PARAMS.has(key)))
    const path = url.pathname
    const portal = /^\/portal\/([^/]+)\/rest\/([^/]+)$/.exec(path)
    const run = (handle: () => unknown) => {
      try {
        answer(200, handle())
      } catch (error) {
        if (!(error instanceof Refusal)) throw error
        refuse(error)
      }
    }
    if (portal) {
      call.endpoint = 'rest'
      call.memberId = portal[1] as string
      call.method = (portal[2] as string).replace(/\.json$/, '')
      return run(() => this.#rest(call, params))
    }
    if (path === '/rest/app.info' || path === '/rest/app.info.json') call.endpoint = 'app.info'
    else if (path === '/oauth/token/' || path === '/oauth/token') call.endpoint = 'oauth.token'
    else return refuse(new Refusal(404, 'NOT_FOUND', 'no such endpoint')) // ours
    const handle = call.endpoint === 'app.info' ? () => this.#appInfo(call, params) : () => this.#token(call, params)
    const serve = () => {
      if (this.#failure === 'hang') return void this.#hanging.push(serve)
      if (this.#failure === '503') return answer(503, '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>', 'text/html')
      run(handle)
    }
    if (call.endpoint === 'oauth.token' && this.#delayMs > 0) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        serve()
      }, this.#delayMs)
      this.#timers.add(timer)
      return
    }
    serve()
  }

  /** The OAuth server's `app.info` (../shared/APPS.md): which application and portal a live access token belongs to. */
  #appInfo(call: FakeOAuthCall, params: Record<string, unknown>): unknown {
    const grant = this.#live(call, params.auth)
    const state = this.#state(grant.memberId)
    const { clientId, scope, version, domain, clientEndpoint, memberId } = state
    const install = { installed: true, version, status: 'L', scope, domain, uri: `https://${domain}`, client_endpoint: clientEndpoint, member_id: memberId, member_type: 'PORTAL' }
    return { result: { client_id: clientId, scope, expires: unix(grant.expiresAt), user_id: 1, install } }
  }

  /** `/oauth/token/` with `grant_type=refresh_token` (auto-renewal.md): a new pair; the refresh token used dies at once. */
  #token(call: FakeOAuthCall, params: Record<string, unknown>): unknown {
    if (params.grant_type !== 'refresh_token') throw new Refusal(400, 'invalid_request', 'grant_type must be refresh_token') // ours: only what the receiver uses
    if (params.client_id !== this.clientId || params.client_secret !== this.clientSecret) throw new Refusal(401, 'invalid_client', 'Invalid client credentials')
    const value = typeof params.refresh_token === 'string' ? params.refresh_token : ''
    const known = this.#refresh.get(value) ?? this.#spent.get(value)
    if (known) {
      call.memberId = known.memberId
      call.generation = known.generation
    }
    const grant = this.#refresh.get(value)
    const state = grant && this.#state(grant.memberId)
    // A refresh token of another application's install is no grant of ours (ours: the docs do not say).
    if (!grant || !state || grant.expiresAt <= Date.now() || state.clientId !== params.client_id) throw new Refusal(400, 'invalid_grant', 'Invalid grant')
    this.#spend(value, grant)
    state.refreshes += 1
    state.generation = state.refreshes
    const pair = this.#issue(state, state.generation)
    state.accessToken = pair.accessToken
    state.refreshToken = pair.refreshToken
    return {
      access_token: pair.accessToken,
      expires: pair.expires,
      expires_in: ACCESS_TTL_MS / 1000,
      scope: state.scope,
      domain: new URL(this.url).host,
      server_endpoint: `${this.url}/rest/`,
      status: 'L',
      client_endpoint: state.clientEndpoint,
      member_id: state.memberId,
      user_id: 1,
      refresh_token: pair.refreshToken,
    }
  }

  /** A portal's REST method, called with one of its live access tokens. */
  #rest(call: FakeOAuthCall, params: Record<string, unknown>): unknown {
    const grant = this.#live(call, params.auth, call.memberId)
    const state = this.#state(grant.memberId)
    const { auth: _token, ...shown } = params
    const started = Date.now()
    return { result: restResult(call.method as string, shown, state), time: { start: started / 1000, finish: Date.now() / 1000, duration: 0, processing: 0, date_start: isoDate(started), date_finish: isoDate(Date.now()) } }
  }

  /** The grant of a live access token (of `memberId`'s portal when given). */
  #live(call: FakeOAuthCall, value: unknown, memberId?: string | null): Grant {
    if (typeof value !== 'string' || value === '') throw new Refusal(401, 'NO_AUTH_FOUND', 'Wrong authorization data')
    const grant = this.#access.get(value)
    if (!grant || (memberId !== undefined && grant.memberId !== memberId)) throw new Refusal(401, 'invalid_token', 'The access token provided is invalid')
    call.memberId = grant.memberId
    call.generation = grant.generation
    if (grant.expiresAt <= Date.now()) throw new Refusal(401, 'expired_token', 'The access token provided has expired')
    return grant
  }
}

/** What the fake portal's methods return: `profile`, the portal's own `app.info` (app-info.md), anything else echoed. */
function restResult(method: string, params: Record<string, unknown>, state: PortalState): unknown {
  switch (method) {
    case 'profile':
      return { ID: 1, ADMIN: true, NAME: 'John', LAST_NAME: 'Smith', PERSONAL_GENDER: 'M', TIME_ZONE: '', TIME_ZONE_OFFSET: 0 }
    case 'app.info':
      return { ID: 5, CODE: state.clientId, VERSION: state.version, STATUS: 'L', INSTALLED: true, PAYMENT_EXPIRED: 'N', DAYS: null, LANGUAGE_ID: 'en', LICENSE: 'en_project', LICENSE_TYPE: 'project', LICENSE_FAMILY: 'project' }
    default:
      return { method, params }
  }
}

/** A request's body: JSON, or a PHP form (`auth=…&a[b]=1`); `{}` when empty. */
async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = ''
  for await (const chunk of request) text += (chunk as Buffer).toString()
  if (text.trim() === '') return {}
  if (request.headers['content-type']?.includes('application/x-www-form-urlencoded')) return { ...parseForm(text) }
  const value: unknown = JSON.parse(text)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object')
  return value as Record<string, unknown>
}

/** `base` with `extra`: top-level keys replaced, `data` and `auth` merged one level down. */
function merge(base: Record<string, PhpValue>, extra: BodyExtra): Record<string, PhpValue> {
  const merged: Record<string, PhpValue> = { ...base }
  for (const [key, value] of Object.entries(extra)) {
    const inner = merged[key]
    const mergeable = (key === 'data' || key === 'auth') && isPlain(inner) && isPlain(value)
    merged[key] = mergeable ? { ...(inner as Record<string, PhpValue>), ...(value as Record<string, PhpValue>) } : (value as PhpValue)
  }
  return merged
}

const isPlain = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Map)
