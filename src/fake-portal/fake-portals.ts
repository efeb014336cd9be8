import { randomBytes } from 'node:crypto'
import type { FakeEventRequest } from '../../schemas/fake-portal.ts'
import type { WireAppInfo, WireTokenAnswer } from '../../schemas/oauth.ts'
import { SAMPLE_PORTAL, sampleMemberId, samplePayload } from '../simulate/sample-payload.ts'

// The state behind `b24-receiver fake-portal`, a development tool: Bitrix24 portals that install
// the application, and the OAuth server that issued their tokens, as the docs describe them
// (../shared/APPS.md; b24restdocs settings/oauth/index.md, auto-renewal.md, error-codes.md;
// api-reference/common/events/on-app-install.md, on-app-update.md, on-app-uninstall.md).

/** An access token's lifetime (settings/oauth/index.md: one hour). */
const ACCESS_TTL_S = 3600
/** What the fake's installs are granted: the scopes of the chat methods the receiver calls. */
const SCOPE = 'imbot,im'

export interface FakePortalsOptions {
  /** The application's `client_id`, as `B24_CLIENT_ID` must name it. */
  clientId: string
  /** Its `client_secret`, as `B24_CLIENT_SECRET` must name it: a refresh with another is refused. */
  clientSecret: string
  /**
   * Where the fake answers, `http://127.0.0.1:PORT` (known once it listens): the OAuth server's
   * base (`B24_OAUTH_URL`) and, under `/portal/MEMBER_ID/rest/`, each portal's REST endpoint.
   */
  url: () => string
  /** Epoch ms: the system's clock by default. */
  now?: () => number
}

/** A refusal in Bitrix24's words: the HTTP status and the `error` code it answers with. */
export class FakePortalRefusal extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

interface Portal {
  domain: string
  memberId: string
  applicationToken: string
  version: number
  installed: boolean
}

interface Grant {
  domain: string
  /** Unix seconds. */
  expires: number
}

const secret = () => randomBytes(16).toString('hex')

/**
 * Portals and their tokens, in memory: `ONAPPINSTALL` issues a portal its application token and
 * a pair of tokens, `app.info` says which application and portal an access token belongs to, a
 * refresh token is good for one refresh, an uninstall revokes every token of the portal. Each
 * event a portal posts carries a fresh pair, as real ones do.
 */
export class FakePortals {
  readonly #options: FakePortalsOptions
  /** By domain. */
  readonly #portals = new Map<string, Portal>()
  readonly #access = new Map<string, Grant>()
  /** Refresh tokens not used yet, and their portal's domain. */
  readonly #refresh = new Map<string, string>()
  #messages = 0

  constructor(options: FakePortalsOptions) {
    this.#options = options
  }

  /**
   * The payload the portal `request.portal` posts for `request.type`. `ONAPPINSTALL` installs the
   * application there (again: a new application token, every older token revoked), `ONAPPUPDATE`
   * raises its version, `ONAPPUNINSTALL` revokes its tokens.
   * @throws {FakePortalRefusal} 409 `NOT_INSTALLED` for any other event of a portal without the application.
   */
  event(request: FakeEventRequest): Record<string, unknown> {
    const domain = request.portal ?? SAMPLE_PORTAL
    const ts = Math.floor(this.#now() / 1000)
    if (request.type === 'ONAPPINSTALL') {
      const portal = this.#install(domain)
      return { event: request.type, data: { VERSION: String(portal.version), ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' }, ts, auth: this.#auth(portal) }
    }
    const portal = this.#portals.get(domain)
    if (!portal?.installed) throw new FakePortalRefusal(409, 'NOT_INSTALLED', `the application is not installed on ${domain}: simulate ONAPPINSTALL first`)
    if (request.type === 'ONAPPUPDATE') {
      portal.version += 1
      return { event: request.type, data: { VERSION: String(portal.version), PREVIOUS_VERSION: String(portal.version - 1), LANGUAGE_ID: 'en' }, ts, auth: this.#auth(portal) }
    }
    if (request.type === 'ONAPPUNINSTALL') {
      // The docs: the application's REST access is gone by the time the event is sent, so it carries no tokens.
      portal.installed = false
      this.#revoke(domain)
      return { event: request.type, data: { LANGUAGE_ID: 'en', CLEAN: '0' }, ts, auth: this.#facts(portal) }
    }
    const { text, chatId, userId } = request
    const payload = samplePayload({ type: request.type, token: portal.applicationToken, portal: domain, text, chatId, userId, ts })
    payload.auth = this.#auth(portal)
    // Every ONIMBOTV2* event names its bot, and carries the bot's own tokens.
    const { bot } = payload.data as { bot: Record<string, unknown> }
    bot.auth = { ...this.#auth(portal), user_id: String(bot.id) }
    return payload
  }

  /**
   * The OAuth server's `app.info` for an access token: the application it was issued to and the portal it was issued on.
   * @throws {FakePortalRefusal} 401 `NO_AUTH_FOUND`, `invalid_token` or `expired_token`.
   */
  appInfo(accessToken: unknown): WireAppInfo {
    const { portal, grant } = this.#holder(accessToken)
    const { domain, memberId, version } = portal
    const install = { installed: true, version, status: 'L', scope: SCOPE, domain, uri: `https://${domain}`, client_endpoint: this.#endpoint(portal), member_id: memberId, member_type: 'PORTAL' }
    return { client_id: this.#options.clientId, scope: SCOPE, expires: grant.expires, user_id: 1, install }
  }

  /**
   * The OAuth server's refresh (`/oauth/token/?grant_type=refresh_token&…`): a new pair; the refresh token used is spent.
   * @throws {FakePortalRefusal} `invalid_request`, `invalid_client` (a wrong client id or secret), `invalid_grant` (a refresh token unknown, spent or revoked).
   */
  refresh(query: Record<string, unknown>): WireTokenAnswer {
    const { clientId, clientSecret } = this.#options
    if (query.grant_type !== 'refresh_token') throw new FakePortalRefusal(400, 'invalid_request', 'grant_type must be refresh_token')
    if (query.client_id !== clientId || query.client_secret !== clientSecret) throw new FakePortalRefusal(401, 'invalid_client', 'Invalid client credentials')
    const domain = typeof query.refresh_token === 'string' ? this.#refresh.get(query.refresh_token) : undefined
    if (domain === undefined) throw new FakePortalRefusal(400, 'invalid_grant', 'Invalid grant')
    this.#refresh.delete(query.refresh_token as string)
    // A refresh token outlives no uninstall (it is revoked then): its portal is installed.
    const portal = this.#portals.get(domain) as Portal
    const pair = this.#issue(portal)
    return {
      access_token: pair.accessToken,
      refresh_token: pair.refreshToken,
      expires: pair.expires,
      expires_in: ACCESS_TTL_S,
      scope: SCOPE,
      member_id: portal.memberId,
      client_endpoint: this.#endpoint(portal),
      server_endpoint: `${this.#options.url()}/rest/`,
      domain: new URL(this.#options.url()).host,
      status: 'L',
      user_id: 1,
    }
  }

  /**
   * A REST method called on portal `memberId` with one of its access tokens: what it returns. The
   * fake keeps nothing: a message sent gets a new id, any other method returns `true`.
   * @throws {FakePortalRefusal} 401 as {@link appInfo}, or `invalid_token` for another portal's token.
   */
  call(memberId: string, method: string, accessToken: unknown): { domain: string; result: unknown } {
    const { portal } = this.#holder(accessToken)
    if (portal.memberId !== memberId) throw new FakePortalRefusal(401, 'invalid_token', 'The access token provided is invalid')
    return { domain: portal.domain, result: method === 'imbot.v2.Chat.Message.send' ? { id: ++this.#messages } : true }
  }

  #now(): number {
    return (this.#options.now ?? Date.now)()
  }

  #install(domain: string): Portal {
    this.#revoke(domain)
    const portal: Portal = { domain, memberId: sampleMemberId(domain), applicationToken: secret(), version: this.#portals.get(domain)?.version ?? 1, installed: true }
    this.#portals.set(domain, portal)
    return portal
  }

  #revoke(domain: string): void {
    for (const [token, grant] of this.#access) if (grant.domain === domain) this.#access.delete(token)
    for (const [token, owner] of this.#refresh) if (owner === domain) this.#refresh.delete(token)
  }

  #issue(portal: Portal): { accessToken: string; refreshToken: string; expires: number } {
    const pair = { accessToken: secret(), refreshToken: secret(), expires: Math.floor(this.#now() / 1000) + ACCESS_TTL_S }
    this.#access.set(pair.accessToken, { domain: portal.domain, expires: pair.expires })
    this.#refresh.set(pair.refreshToken, portal.domain)
    return pair
  }

  /** The portal and grant of a live access token. */
  #holder(accessToken: unknown): { portal: Portal; grant: Grant } {
    if (typeof accessToken !== 'string' || accessToken === '') throw new FakePortalRefusal(401, 'NO_AUTH_FOUND', 'Wrong authorization data')
    const grant = this.#access.get(accessToken)
    if (!grant) throw new FakePortalRefusal(401, 'invalid_token', 'The access token provided is invalid')
    if (grant.expires * 1000 <= this.#now()) throw new FakePortalRefusal(401, 'expired_token', 'The access token provided has expired')
    return { portal: this.#portals.get(grant.domain) as Portal, grant }
  }

  #endpoint(portal: Portal): string {
    return `${this.#options.url()}/portal/${portal.memberId}/rest/`
  }

  /** What every event of the portal says of it. */
  #facts(portal: Portal): { domain: string; server_endpoint: string; client_endpoint: string; member_id: string; application_token: string } {
    return { domain: portal.domain, server_endpoint: `${this.#options.url()}/rest/`, client_endpoint: this.#endpoint(portal), member_id: portal.memberId, application_token: portal.applicationToken }
  }

  /** An event's `auth` with a freshly issued pair, as an event a user caused carries. */
  #auth(portal: Portal): Record<string, string> {
    const pair = this.#issue(portal)
    const { domain, server_endpoint, client_endpoint, member_id, application_token } = this.#facts(portal)
    return {
      access_token: pair.accessToken,
      expires: String(pair.expires),
      expires_in: String(ACCESS_TTL_S),
      scope: SCOPE,
      domain,
      server_endpoint,
      status: 'L',
      client_endpoint,
      member_id,
      user_id: '1',
      refresh_token: pair.refreshToken,
      application_token,
    }
  }
}
