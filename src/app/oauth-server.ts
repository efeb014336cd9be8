import type { Logger } from 'pino'
import { Compile } from 'typebox/compile'
import { WireAppInfoSchema, WireTokenAnswerSchema, type AppInfo, type TokenGrant, type WireAppInfo, type WireTokenAnswer } from '../../schemas/oauth.ts'
import { BitrixError } from '../bitrix/bitrix-error.ts'
import { callSignal } from '../call-signal.ts'
import { readJsonObject } from '../bitrix/read-json-object.ts'

export type { AppInfo, TokenGrant }

export interface OAuthServerOptions {
  /** The OAuth server's base (`B24_OAUTH_URL`, `https://oauth.bitrix.info`); a trailing slash is fine. */
  url: string
  clientId: string
  /** Sent to {@link url} with each refresh, and nowhere else. */
  clientSecret: string
  /** How long one call may take before it fails with `TIMEOUT`, in ms. */
  timeoutMs: number
  /** Gets one debug line per call: method, status, error code, time; never the URL or a token. */
  logger?: Logger
}

/** The access token's lifetime when a refresh answer does not say (settings/oauth/auto-renewal.md: one hour). */
const ACCESS_TOKEN_S = 3600

/**
 * The server's codes for "this token, grant or client is not valid": settings/oauth/error-codes.md,
 * the REST system errors for a token (`expired_token`, `invalid_token`, `NO_AUTH_FOUND`), and the
 * refusals the docs show (`PAYMENT_REQUIRED`).
 */
const REFUSALS = new Set([
  'invalid_token',
  'expired_token',
  'NO_AUTH_FOUND',
  'invalid_grant',
  'invalid_client',
  'wrong_client',
  'invalid_request',
  'invalid_scope',
  'insufficient_scope',
  'PAYMENT_REQUIRED',
])

const checkAppInfo = Compile(WireAppInfoSchema)
const checkTokenAnswer = Compile(WireTokenAnswerSchema)

/**
 * Whether the OAuth server said no (asking again gets the same answer): one of its refusal codes
 * (`invalid_token`, `expired_token`, `NO_AUTH_FOUND`, `invalid_grant`, `invalid_client`,
 * `wrong_client`, …) whatever the status, or any other 4xx but 408 and 429. Not definite: no
 * answer, a timeout, a 5xx, 408, 429, or an answer we cannot read (try again later).
 */
export function isDefinite(error: BitrixError): boolean {
  if (REFUSALS.has(error.code)) return true
  const { status } = error
  return status !== null && status >= 400 && status < 500 && status !== 408 && status !== 429 && error.code !== 'ERROR_UNEXPECTED_ANSWER'
}

/**
 * The client of the Bitrix24 OAuth server: confirms an access token (`app.info`) and refreshes a
 * portal's tokens. Every failure is a {@link BitrixError} (method `app.info` or `oauth.token`);
 * {@link isDefinite} tells a refusal from a failure to answer. No message or log line holds the
 * URL, the client secret or a token.
 */
export class OAuthServer {
  readonly #base: string
  readonly #options: OAuthServerOptions

  constructor(options: OAuthServerOptions) {
    this.#options = options
    this.#base = options.url.replace(/\/+$/, '')
  }

  /**
   * What the server knows of an access token: the application it was issued to and the portal it
   * was issued on (`GET {url}/rest/app.info?auth=TOKEN`). `timeoutMs` defaults to the server's.
   * @throws {BitrixError}
   */
  async appInfo(accessToken: string, timeoutMs = this.#options.timeoutMs): Promise<AppInfo> {
    const reply = await this.#get('app.info', '/rest/app.info', { auth: accessToken }, timeoutMs, [accessToken])
    const result = reply.body.result
    if (!checkAppInfo.Check(result)) throw unexpected('app.info', reply.status, 'its result is not the app.info of a token')
    return appInfoOf(result)
  }

  /**
   * A new pair for a portal's refresh token (`GET {url}/oauth/token/?grant_type=refresh_token&…`).
   * The refresh token is single-use: whatever the outcome, do not send it twice at once.
   * @throws {BitrixError} `invalid_grant` when the server no longer knows it (reinstall needed).
   */
  async refresh(refreshToken: string): Promise<TokenGrant> {
    const { clientId, clientSecret, timeoutMs } = this.#options
    // The expiry counts from the moment we asked: never later than the server's own clock says.
    const asked = Date.now()
    const query = { grant_type: 'refresh_token', client_id: clientId, client_secret: clientSecret, refresh_token: refreshToken }
    const reply = await this.#get('oauth.token', '/oauth/token/', query, timeoutMs, [refreshToken, clientSecret])
    if (!checkTokenAnswer.Check(reply.body)) throw unexpected('oauth.token', reply.status, 'the answer holds no access and refresh token')
    return grantOf(reply.body, asked)
  }

  /** One GET; its JSON object, or the {@link BitrixError} for an error, an HTTP failure or no answer. */
  async #get(method: string, path: string, query: Record<string, string>, timeoutMs: number, secrets: string[]): Promise<{ status: number; body: Record<string, unknown> }> {
    const url = new URL(`${this.#base}${path}`)
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value)
    const call = callSignal(timeoutMs)
    const started = performance.now()
    let response: Response
    let text: string
    try {
      // No redirect is followed: it would repeat the query, token and secret included, to a URL nobody checked.
      response = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal: call.signal })
      text = await response.text()
    } catch (error) {
      const code = call.timedOut ? 'TIMEOUT' : 'NETWORK_ERROR'
      // Only the cause's code: undici's messages can carry the request URL, and so the secret.
      const reason = call.timedOut ? `no answer within ${timeoutMs} ms` : ((error as { cause?: { code?: string } }).cause?.code ?? 'the connection failed')
      this.#log(method, null, started, code)
      throw new BitrixError(method, code, null, reason)
    } finally {
      call.release()
    }
    const body = readJsonObject(text)
    const { status } = response
    if (body && typeof body.error === 'string') {
      const code = scrub(body.error, secrets)
      this.#log(method, status, started, code)
      throw new BitrixError(method, code, status, typeof body.error_description === 'string' ? scrub(body.error_description, secrets) : '')
    }
    this.#log(method, status, started, response.ok ? undefined : `HTTP_${status}`)
    if (!response.ok) throw new BitrixError(method, `HTTP_${status}`, status, '')
    if (!body) throw unexpected(method, status, 'the answer is not a JSON object')
    return { status, body }
  }

  #log(method: string, status: number | null, started: number, error?: string): void {
    this.#options.logger?.debug({ method, status, error, ms: Math.round(performance.now() - started) }, 'oauth server call')
  }
}

const unexpected = (method: string, status: number, why: string) => new BitrixError(method, 'ERROR_UNEXPECTED_ANSWER', status, why)

function appInfoOf(result: WireAppInfo): AppInfo {
  const { install } = result
  return {
    clientId: result.client_id,
    scope: text(result.scope) ?? text(install.scope),
    install: { memberId: install.member_id, domain: install.domain, clientEndpoint: install.client_endpoint, version: text(install.version), installed: flag(install.installed) },
  }
}

/** `expires` (unix seconds) when it is given, else `expires_in` seconds from `asked`, else the documented hour. */
function grantOf(answer: WireTokenAnswer, asked: number): TokenGrant {
  const expires = positive(answer.expires)
  const lifetime = positive(answer.expires_in) ?? ACCESS_TOKEN_S
  return {
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token,
    expiresAt: expires === null ? asked + lifetime * 1000 : expires * 1000,
    scope: text(answer.scope),
    memberId: text(answer.member_id),
    clientEndpoint: text(answer.client_endpoint),
  }
}

/** A non-empty string, or a number as text; else `null`. */
function text(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return typeof value === 'string' && value !== '' ? value : null
}

/** A whole number above 0, or the digit string PHP may send for one; else `null`. */
function positive(value: unknown): number | null {
  const number = typeof value === 'string' && /^[0-9]{1,15}$/.test(value) ? Number(value) : value
  return Number.isSafeInteger(number) && (number as number) > 0 ? (number as number) : null
}

const TRUE = new Set<unknown>([true, 'Y', 'true', '1', 1])
const FALSE = new Set<unknown>([false, 'N', 'false', '0', 0])

function flag(value: unknown): boolean | null {
  if (TRUE.has(value)) return true
  return FALSE.has(value) ? false : null
}

/** The server's own words, with anything we sent it cut out: a server that echoes a token must not put it in our messages. */
function scrub(words: string, secrets: string[]): string {
  let clean = words
  for (const secret of secrets) if (secret !== '') clean = clean.split(secret).join('[redacted]')
  return clean
}
