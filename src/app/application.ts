import { timingSafeEqual } from 'node:crypto'
import type { Logger } from 'pino'
import type { AppHealth } from '../../schemas/health.ts'
import type { PortalRow } from '../../schemas/portal.ts'
import type { TokenSet } from '../auth/token-set.ts'
import { UnauthorizedError } from '../auth/verify-token.ts'
import type { BitrixError } from '../bitrix/bitrix-error.ts'
import type { Bitrix } from '../bitrix/bitrix.ts'
import { ReceiverError } from '../errors.ts'
import type { AuthBlock, Credentials } from '../event/credentials.ts'
import { readPayload } from '../event/read-payload.ts'
import type { WebhookScan } from '../event/scan-webhook.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { DeadLetters, Meta, Portals } from '../store/store.ts'
import { APP_DEFAULTS, type AppOptions } from './app-options.ts'
import { confirmInstall, type ConfirmedInstall } from './confirm-install.ts'
import { OAuthServer } from './oauth-server.ts'
import { PendingInstalls, type Confirmation } from './pending-installs.ts'
import { portalCaller } from './portal-caller.ts'
import { PortalTokens } from './portal-tokens.ts'
import { sealTokens } from './token-pair.ts'

/** The events of an application's own life on a portal, which application mode acts on at the door. */
export const LIFECYCLE = new Set(['ONAPPINSTALL', 'ONAPPUPDATE', 'ONAPPUNINSTALL'])

/** An access token's lifetime when an install does not say (the docs: one hour). */
const ACCESS_TOKEN_MS = 3600000

/** What the worker does with a stored event of application mode: hand it over, hold it (its install is pending), or drop it (its install was refused, or the portal forgot). */
export type Admission = { verdict: 'handle'; portal: PortalRow | null } | { verdict: 'defer' } | { verdict: 'forget' }

/** The OAuth server could not confirm a reinstall of a portal that is installed: the install it has stays (503). */
class InstallNotConfirmedYet extends ReceiverError {
  constructor(options?: ErrorOptions) {
    super('INSTALL_NOT_CONFIRMED_YET', 503, 'the OAuth server cannot confirm this install now', options)
  }
}

export interface ApplicationParts {
  options: AppOptions
  portals: Portals
  meta: Meta
  deadLetters: DeadLetters
  sealer: Sealer
  logger: Logger
  /** How long one REST call may take. */
  restTimeoutMs: number
  /** This process, as the owner of the store's refresh locks. */
  owner: string
  /** The `B24_APP_TOKENS` entries: what they accept is kept whatever becomes of a portal. */
  tokens: TokenSet
}

/**
 * Application mode: one service for every portal that installs the application. At the door it
 * confirms `ONAPPINSTALL` with the OAuth server before storing anything, checks each event's
 * application token against its portal's, and applies `ONAPPUPDATE` and `ONAPPUNINSTALL`. Behind
 * it, it tells the worker which events to hold or drop and calls portals as the application.
 */
export class Application {
  readonly #parts: ApplicationParts
  readonly #options: Required<AppOptions>
  readonly #oauth: OAuthServer
  readonly #tokens: PortalTokens
  readonly #pending: PendingInstalls
  #fatal: string | null = null

  constructor(parts: ApplicationParts) {
    this.#parts = parts
    // An unset variable reaches here as `undefined`: it keeps the default.
    const options = { ...parts.options, oauthUrl: parts.options.oauthUrl ?? APP_DEFAULTS.oauthUrl, oauthTimeoutMs: parts.options.oauthTimeoutMs ?? APP_DEFAULTS.oauthTimeoutMs }
    this.#options = options
    this.#oauth = new OAuthServer({ url: options.oauthUrl, clientId: options.clientId, clientSecret: options.clientSecret, timeoutMs: parts.restTimeoutMs, logger: parts.logger })
    this.#tokens = new PortalTokens({
      portals: parts.portals,
      meta: parts.meta,
      sealer: parts.sealer,
      oauth: this.#oauth,
      logger: parts.logger,
      owner: parts.owner,
      onClientRefused: (code) => {
        this.#fatal = `the OAuth server refuses B24_CLIENT_ID or B24_CLIENT_SECRET (${code}): fix them and restart`
        parts.logger.fatal({ code }, this.#fatal)
      },
    })
    this.#pending = new PendingInstalls((memberId) => this.#confirmPending(memberId), parts.logger)
  }

  /** Why the application cannot work at all (our client refused), or `null`. */
  get fatal(): string | null {
    return this.#fatal
  }

  /** Takes up the installs left pending by an earlier run or another replica. */
  async start(): Promise<void> {
    for (const row of await this.#parts.portals.list()) if (row.status === 'pending') this.#pending.schedule(row.memberId)
  }

  stop(): void {
    this.#pending.stop()
  }

  /**
   * The door's check of an application lifecycle event (`ONAPPINSTALL`, `ONAPPUPDATE`,
   * `ONAPPUNINSTALL`), and what it changes: resolves when the event may be stored.
   * @throws {UnauthorizedError} when it is not proven; {ReceiverError} 503 when it cannot be now.
   */
  async admit(type: string, credentials: Credentials, wire: Pick<WebhookScan, 'bodyKind' | 'body'>): Promise<void> {
    const auth = credentials.auth ?? {}
    if (!auth.application_token) throw new UnauthorizedError('MISSING_TOKEN', 'auth[application_token] is missing')
    if (!auth.member_id) throw new UnauthorizedError('INVALID_TOKEN', 'auth[member_id] is missing')
    const data = dataOf(wire)
    if (type === 'ONAPPINSTALL') return this.#install(auth as AuthBlock & { member_id: string; application_token: string }, data)
    const row = await this.#parts.portals.get(auth.member_id)
    const known = row !== null && this.#matches(auth.application_token, row)
    if (type === 'ONAPPUPDATE') return this.#update(auth as AuthBlock & { member_id: string; application_token: string }, row, known, data)
    if (!known) throw new UnauthorizedError('INVALID_TOKEN', 'auth[application_token] is not accepted here')
    return this.#uninstall(row as PortalRow, String(data.CLEAN ?? '') === '1')
  }

  /** Whether an event's application token is the stored one of its portal (constant time). */
  async accepts(credentials: Credentials): Promise<boolean> {
    const memberId = credentials.auth?.member_id
    const token = credentials.applicationToken
    if (!memberId || !token) return false
    const row = await this.#parts.portals.get(memberId)
    return row !== null && this.#matches(token, row)
  }

  /**
   * What the worker does with a stored webhook event: the events of a pending install wait for
   * its confirmation; those of a portal forgotten since (install refused, uninstalled with
   * `CLEAN`) go, unless a `B24_APP_TOKENS` entry accepts them. An uninstall is always handed over.
   */
  async admission(type: string, credentials: Credentials): Promise<Admission> {
    const { memberId } = credentials.portal
    const row = memberId ? await this.#parts.portals.get(memberId) : null
    if (row?.status === 'pending' && type !== 'ONAPPUNINSTALL') return { verdict: 'defer' }
    if (row || type === 'ONAPPUNINSTALL' || this.#parts.tokens.accepts(credentials.applicationToken, memberId)) return { verdict: 'handle', portal: row }
    return { verdict: 'forget' }
  }

  /** Calls `memberId` as the application (`receiver.portal(memberId)`, `ctx.bitrix`). */
  portal(memberId: string): Bitrix {
    return portalCaller(this.#tokens, memberId, { timeoutMs: this.#parts.restTimeoutMs, logger: this.#parts.logger })
  }

  /** What `/health` says of the application: its portals, those to reinstall, and a fatal error. */
  async health(): Promise<AppHealth> {
    const rows = await this.#parts.portals.list()
    const count = (status: PortalRow['status']) => rows.filter((row) => row.status === status).length
    return {
      portals: { active: count('active'), pending: count('pending'), reinstall: count('reinstall'), uninstalled: count('uninstalled') },
      needReinstall: rows.filter((row) => row.status === 'reinstall').map(({ memberId, domain }) => ({ memberId, domain })),
      error: this.#fatal,
    }
  }

  #matches(token: string, row: PortalRow): boolean {
    if (row.applicationToken === null || row.status === 'uninstalled') return false
    const offered = Buffer.from(this.#parts.sealer.digest(token), 'hex')
    const stored = Buffer.from(row.applicationToken, 'hex')
    return stored.length === offered.length && timingSafeEqual(stored, offered)
  }

  async #install(auth: AuthBlock & { member_id: string; application_token: string }, data: Record<string, unknown>): Promise<void> {
    const { portals, sealer, logger } = this.#parts
    const memberId = auth.member_id
    if (!auth.access_token || !auth.domain) throw new UnauthorizedError('INSTALL_NOT_CONFIRMED', 'the install cannot be confirmed: it has no auth[access_token] or auth[domain]')
    const existing = await portals.get(memberId)
    const now = Date.now()
    const row = (status: PortalRow['status'], confirmed: ConfirmedInstall): PortalRow => ({
      memberId,
      domain: auth.domain as string,
      clientEndpoint: confirmed.clientEndpoint,
      status,
      scope: confirmed.scope,
      version: versionOf(data),
      applicationToken: sealer.digest(auth.application_token),
      tokens: sealTokens({ accessToken: auth.access_token as string, refreshToken: auth.refresh_token ?? '' }, sealer),
      expiresAt: expiryOf(auth, now),
      installedAt: now,
      updatedAt: now,
    })
    let confirmed: ConfirmedInstall
    try {
      confirmed = await confirmInstall(this.#oauth, this.#options.clientId, { memberId, domain: auth.domain, accessToken: auth.access_token, scope: auth.scope ?? null }, this.#options.oauthTimeoutMs)
    } catch (error) {
      if (error instanceof UnauthorizedError) {
        logger.warn({ memberId, reason: error.message }, 'refused an install the OAuth server does not confirm')
        throw error
      }
      // A working install is not replaced by one nobody can vouch for yet.
      if (existing?.status === 'active') throw new InstallNotConfirmedYet({ cause: error })
      await portals.put(row('pending', { clientEndpoint: auth.client_endpoint ?? '', scope: auth.scope ?? null }))
      logger.warn({ memberId, portal: auth.domain, code: (error as BitrixError).code }, 'the OAuth server cannot confirm an install now: kept pending (its events are stored, handled once it is confirmed)')
      this.#pending.schedule(memberId)
      return
    }
    await portals.put(row('active', confirmed))
    logger.info({ memberId, portal: auth.domain }, existing ? 'the application was installed again on a portal' : 'the application was installed on a portal')
  }

  async #update(auth: AuthBlock & { member_id: string; application_token: string }, row: PortalRow | null, known: boolean, data: Record<string, unknown>): Promise<void> {
    const { portals, sealer, logger } = this.#parts
    const version = versionOf(data)
    if (known) {
      await portals.update(auth.member_id, { version, updatedAt: Date.now() })
      return
    }
    // A new application token: only the OAuth server can vouch for it, through the event's access token.
    if (!row || row.status === 'uninstalled' || !auth.access_token || !auth.domain) throw new UnauthorizedError('INVALID_TOKEN', 'auth[application_token] is not accepted here')
    let confirmed: ConfirmedInstall
    try {
      confirmed = await confirmInstall(this.#oauth, this.#options.clientId, { memberId: auth.member_id, domain: auth.domain, accessToken: auth.access_token, scope: row.scope }, this.#options.oauthTimeoutMs)
    } catch (error) {
      if (error instanceof UnauthorizedError) throw error
      throw new InstallNotConfirmedYet({ cause: error })
    }
    await portals.update(auth.member_id, { applicationToken: sealer.digest(auth.application_token), clientEndpoint: confirmed.clientEndpoint, version, updatedAt: Date.now() })
    logger.info({ memberId: auth.member_id, portal: row.domain }, 'the application was updated on a portal with a new application token')
  }

  async #uninstall(row: PortalRow, clean: boolean): Promise<void> {
    const { portals, deadLetters, logger } = this.#parts
    if (clean) {
      await portals.delete(row.memberId)
      for (const letter of await deadLetters.list()) if (letter.portal.memberId === row.memberId) await deadLetters.drop(letter.id)
    } else {
      await portals.update(row.memberId, { status: 'uninstalled', applicationToken: null, tokens: null, expiresAt: null, updatedAt: Date.now() })
    }
    logger.info({ memberId: row.memberId, portal: row.domain, clean }, clean ? 'the application was uninstalled from a portal: everything stored for it is deleted' : "the application was uninstalled from a portal: its tokens are deleted")
  }

  async #confirmPending(memberId: string): Promise<Confirmation> {
    const { portals, logger } = this.#parts
    const row = await portals.get(memberId)
    if (row?.status !== 'pending') {
      logger.debug({ memberId }, 'a pending install was settled elsewhere (another replica, or `portals forget`)')
      return 'settled'
    }
    const { tokens } = await this.#tokens.callable(memberId, 'app.info', true)
    try {
      const confirmed = await confirmInstall(this.#oauth, this.#options.clientId, { memberId, domain: row.domain, accessToken: tokens.accessToken, scope: row.scope }, this.#options.oauthTimeoutMs)
      await portals.update(memberId, { status: 'active', clientEndpoint: confirmed.clientEndpoint, scope: confirmed.scope, updatedAt: Date.now() })
      logger.info({ memberId, portal: row.domain }, 'a pending install is confirmed: its events are handled now')
      return 'settled'
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) return 'again'
      await portals.delete(memberId)
      logger.warn({ memberId, portal: row.domain, reason: error.message }, 'the OAuth server refused a pending install: the portal and its events are forgotten')
      return 'settled'
    }
  }
}

/** The `data` of a lifecycle event's wire (small: read whole). */
function dataOf(wire: Pick<WebhookScan, 'bodyKind' | 'body'>): Record<string, unknown> {
  const { data } = readPayload(wire.body, wire.bodyKind === 'form' ? 'form' : 'json')
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {}
}

/** The application's version an event names (`data[VERSION]`), as text. */
function versionOf(data: Record<string, unknown>): string | null {
  const version = data.VERSION
  return typeof version === 'string' || typeof version === 'number' ? String(version) : null
}

/** When an install's access token expires, in whole ms: `expires` (unix seconds) if given, else `expires_in` seconds from now, else an hour. */
function expiryOf(auth: AuthBlock, now: number): number {
  const expires = Number(auth.expires)
  if (Number.isFinite(expires) && expires > 0) return Math.floor(expires * 1000)
  const seconds = Number(auth.expires_in)
  return Math.floor(now + (Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : ACCESS_TOKEN_MS))
}

