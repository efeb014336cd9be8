import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { PortalRow } from '../../schemas/portal.ts'
import { BitrixError } from '../bitrix/bitrix-error.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { Candidates, Leases, Portals } from '../store/store.ts'
import type { OAuthServer } from './oauth-server.ts'
import { openTokens, sealTokens, type TokenPair } from './token-pair.ts'

/** How long one replica may hold a portal's refresh: past it (a replica died mid-refresh) another may take it. */
const LOCK_TTL_MS = 30000
/** How often a replica waiting for another's refresh looks again. */
const LOCK_POLL_MS = 100

/** The OAuth server's codes for a wrong `client_id` or `client_secret`: ours, so every portal's. */
const CLIENT_REFUSED = new Set(['invalid_client', 'wrong_client'])

export interface PortalTokensOptions {
  portals: Portals
  /** The installs not confirmed yet: a portal with only those is told apart from one never installed. */
  candidates: Pick<Candidates, 'of'>
  /** The store's leases: the lock that makes one refresh per portal across replicas. */
  leases: Leases
  sealer: Sealer
  oauth: Pick<OAuthServer, 'refresh'>
  logger: Logger
  /** This process, as the lock's owner. */
  owner: string
  /** The OAuth server refused our own client id or secret (`invalid_client`, `wrong_client`). */
  onClientRefused(code: string): void
  /** How long a replica may hold a portal's refresh, and another waits for it; 30 s. */
  lockTtlMs?: number
}

/** A stored portal with its tokens opened: what a call needs. */
export interface Callable {
  row: PortalRow
  tokens: TokenPair
}

/**
 * The tokens of the application's portals, refreshed once per portal at a time: within this
 * process the callers of one portal share one refresh, and across replicas a lease in the store
 * lets one of them refresh while the others wait for the pair it stores. A refresh token is
 * single-use, so two refreshes racing would leave one side with dead tokens (b24phpsdk #102,
 * crest #13). The new pair is stored, sealed, before anyone uses it.
 */
export class PortalTokens {
  readonly #options: PortalTokensOptions
  readonly #refreshing = new Map<string, Promise<string>>()
  #clientRefused: string | null = null

  constructor(options: PortalTokensOptions) {
    this.#options = options
  }

  /**
   * The portal and its tokens, for a call of `method`.
   * @throws {BitrixError} when it cannot be called as the application: not installed
   *   (`APP_NOT_INSTALLED`), only installs not confirmed yet (`APP_INSTALL_PENDING`), to be
   *   reinstalled (`invalid_grant`), or our client refused (`invalid_client`).
   */
  async callable(memberId: string, method: string): Promise<Callable> {
    if (this.#clientRefused) throw new BitrixError(method, this.#clientRefused, null, 'the OAuth server refuses B24_CLIENT_ID or B24_CLIENT_SECRET')
    const row = await this.#options.portals.get(memberId)
    if (!row && (await this.#options.candidates.of(memberId)).length > 0) throw new BitrixError(method, 'APP_INSTALL_PENDING', null, 'the OAuth server has not confirmed the install yet')
    if (!row || row.status === 'uninstalled' || row.tokens === null) throw new BitrixError(method, 'APP_NOT_INSTALLED', null, 'the application is not installed on this portal')
    if (row.status === 'reinstall') throw new BitrixError(method, 'invalid_grant', null, 'the portal refused the refresh token: install the application there again')
    return { row, tokens: openTokens(row.tokens, this.#options.sealer) }
  }

  /**
   * A fresh access token for a portal whose `stale` one the portal refused: the one another
   * caller or replica stored meanwhile, else a new pair from the OAuth server.
   * @throws {BitrixError} as {@link callable}, or the OAuth server's refusal.
   */
  refresh(memberId: string, stale: string, method: string): Promise<string> {
    const running = this.#refreshing.get(memberId)
    if (running) return running
    const refreshing = this.#refresh(memberId, stale, method).finally(() => this.#refreshing.delete(memberId))
    this.#refreshing.set(memberId, refreshing)
    return refreshing
  }

  async #refresh(memberId: string, stale: string, method: string): Promise<string> {
    const { leases, owner, lockTtlMs = LOCK_TTL_MS } = this.#options
    const lock = `oauth-refresh:${memberId}`
    const deadline = Date.now() + lockTtlMs
    for (;;) {
      const { tokens } = await this.callable(memberId, method)
      if (tokens.accessToken !== stale) return tokens.accessToken
      if (await leases.lease(lock, owner, lockTtlMs)) break
      if (Date.now() >= deadline) throw new BitrixError(method, 'TIMEOUT', null, 'another replica is refreshing this portal and has not finished')
      await sleep(LOCK_POLL_MS)
    }
    try {
      // Read again under the lock: another replica may have stored a new pair just before it.
      const { row, tokens } = await this.callable(memberId, method)
      if (tokens.accessToken !== stale) return tokens.accessToken
      return await this.#renew(row, tokens, method)
    } finally {
      await leases.unlease(lock, owner).catch(() => undefined)
    }
  }

  async #renew(row: PortalRow, tokens: TokenPair, method: string): Promise<string> {
    const { portals, sealer, oauth, logger } = this.#options
    let grant
    try {
      grant = await oauth.refresh(tokens.refreshToken)
    } catch (error) {
      if (error instanceof BitrixError) await this.#refused(row, error)
      throw error instanceof BitrixError ? new BitrixError(method, error.code, error.status, error.description, { cause: error }) : error
    }
    await portals.update(row.memberId, { tokens: sealTokens(grant, sealer), expiresAt: grant.expiresAt, scope: grant.scope ?? row.scope, updatedAt: Date.now() })
    logger.info({ memberId: row.memberId, portal: row.domain }, "refreshed a portal's OAuth tokens")
    return grant.accessToken
  }

  async #refused(row: PortalRow, error: BitrixError): Promise<void> {
    const { portals, logger, onClientRefused } = this.#options
    if (error.code === 'invalid_grant') {
      await portals.update(row.memberId, { status: 'reinstall', updatedAt: Date.now() })
      logger.error(
        { memberId: row.memberId, portal: row.domain },
        'the OAuth server refused this portal\'s refresh token (invalid_grant): its calls fail until the application is installed there again',
      )
    } else if (CLIENT_REFUSED.has(error.code) && this.#clientRefused === null) {
      this.#clientRefused = error.code
      onClientRefused(error.code)
    }
  }
}
