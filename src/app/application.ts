import { timingSafeEqual } from 'node:crypto'
import type { Logger } from 'pino'
import type { AppHealth } from '../../schemas/health.ts'
import type { CandidateRow, NewCandidate, PortalRow } from '../../schemas/portal.ts'
import type { TokenSet } from '../auth/token-set.ts'
import { UnauthorizedError, verifyToken } from '../auth/verify-token.ts'
import type { BitrixError } from '../bitrix/bitrix-error.ts'
import type { Bitrix } from '../bitrix/bitrix.ts'
import { ReceiverError } from '../errors.ts'
import type { AuthBlock, Credentials } from '../event/credentials.ts'
import { readPayload } from '../event/read-payload.ts'
import type { Arrival } from '../door/arrival.ts'
import type { Ingest } from '../door/ingest.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { Candidates, DeadLetters, Meta, NewRecord, Portals } from '../store/store.ts'
import { APP_DEFAULTS, type AppOptions } from './app-options.ts'
import { systemClock } from './clock.ts'
import { confirmInstall, type ConfirmedInstall, type InstallClaim } from './confirm-install.ts'
import { OAuthServer } from './oauth-server.ts'
import { PendingInstalls, type Confirmation } from './pending-installs.ts'
import { portalCaller } from './portal-caller.ts'
import { PortalTokens } from './portal-tokens.ts'
import { openTokens, sealTokens } from './token-pair.ts'

/** An access token's lifetime when an install does not say (the docs: one hour). */
const ACCESS_TOKEN_MS = 3600000

/** What the worker does with a stored webhook event of application mode: hand it over, or drop it (its portal forgot). */
export type Admission = { verdict: 'handle'; portal: PortalRow | null } | { verdict: 'forget' }

/** The OAuth server cannot vouch for a new application token now: nothing changes (503). */
class InstallNotConfirmedYet extends ReceiverError {
  constructor(options?: ErrorOptions) {
    super('INSTALL_NOT_CONFIRMED_YET', 503, 'the OAuth server cannot confirm this install now', options)
  }
}

/** A bound on what pending installs may hold is reached: nothing of the event is stored (503). */
class PendingInstallsFull extends ReceiverError {
  constructor(message: string) {
    super('TOO_MANY_PENDING_INSTALLS', 503, message)
  }
}

/** The candidate an event was to be stored under was settled meanwhile. */
class CandidateGone extends Error {}

type InstallAuth = AuthBlock & { member_id: string; application_token: string; access_token: string; domain: string }

export interface ApplicationParts {
  options: AppOptions
  portals: Portals
  /** The installs the OAuth server has not settled yet, and their events. */
  candidates: Candidates
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
 * confirms `ONAPPINSTALL` with the OAuth server before anything is stored as a portal, checks
 * each event's application token against its portal's (or a pending install's), and applies
 * `ONAPPUPDATE` and `ONAPPUNINSTALL`. Behind it, it settles pending installs, tells the worker
 * which events to drop, and calls portals as the application.
 *
 * An install the OAuth server cannot confirm now replaces and hides nothing: it waits as a
 * candidate of its portal, beside the portal's row and any other candidate, with its own token and
 * the events that come with it; confirmed, it becomes the portal and its events are handled;
 * refused, it goes with its events, and nothing else of the portal does.
 */
export class Application {
  readonly #parts: ApplicationParts
  readonly #options: Required<Omit<AppOptions, 'clock'>>
  readonly #oauth: OAuthServer
  readonly #tokens: PortalTokens
  readonly #pending: PendingInstalls
  #fatal: string | null = null

  constructor(parts: ApplicationParts) {
    this.#parts = parts
    const options: Required<Omit<AppOptions, 'clock'>> = { ...APP_DEFAULTS, clientId: parts.options.clientId, clientSecret: parts.options.clientSecret }
    // An unset variable reaches here as `undefined`: it keeps the default.
    for (const [key, value] of Object.entries(parts.options)) if (value !== undefined && key !== 'clock') Object.assign(options, { [key]: value })
    this.#options = options
    this.#oauth = new OAuthServer({ url: options.oauthUrl, clientId: options.clientId, clientSecret: options.clientSecret, timeoutMs: parts.restTimeoutMs, logger: parts.logger })
    this.#tokens = new PortalTokens({
      portals: parts.portals,
      candidates: parts.candidates,
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
    this.#pending = new PendingInstalls({
      confirm: (id) => this.#confirmPending(id),
      logger: parts.logger,
      maxInFlight: options.oauthConcurrency,
      retryBaseMs: options.confirmRetryBaseMs,
      retryMaxMs: options.confirmRetryMaxMs,
      clock: parts.options.clock ?? systemClock,
    })
  }

  /** Why the application cannot work at all (our client refused), or `null`. */
  get fatal(): string | null {
    return this.#fatal
  }

  /** Takes up the installs left pending by an earlier run or another replica. */
  async start(): Promise<void> {
    for (const candidate of await this.#parts.candidates.list()) this.#pending.schedule(candidate.id)
  }

  stop(): void {
    this.#pending.stop()
  }

  /**
   * The door in application mode: checks a webhook event and stores it with `ingest`. An install
   * is confirmed first (or kept as a candidate while the OAuth server cannot answer); any other
   * event passes with its portal's token (an update or uninstall is applied then), or a pending
   * install's (stored under it), or a `B24_APP_TOKENS` entry.
   * @throws {UnauthorizedError} when it is not proven; {ReceiverError} 503 when it cannot be stored now.
   */
  receive(arrival: Arrival, ingest: Ingest): Promise<void> {
    return this.#receive(arrival, ingest, false)
  }

  /** `again`: the event's pending install was settled while it was being stored, and this looks once more. */
  async #receive(arrival: Arrival, ingest: Ingest, again: boolean): Promise<void> {
    const { type, credentials } = arrival
    const auth = credentials.auth ?? {}
    if (type === 'ONAPPINSTALL') return this.#install(auth, arrival, ingest)
    const memberId = auth.member_id
    const token = credentials.applicationToken
    if (memberId && token) {
      const digest = this.#parts.sealer.digest(token)
      const row = await this.#parts.portals.get(memberId)
      // An uninstalled portal keeps no token: nothing matches it.
      if (row && sameHash(row.applicationToken, digest)) {
        if (type === 'ONAPPUPDATE') await this.#parts.portals.update(memberId, { version: versionOf(dataOf(arrival)), updatedAt: Date.now() })
        if (type === 'ONAPPUNINSTALL') await this.#uninstall(row, String(dataOf(arrival).CLEAN ?? '') === '1')
        return ingest.accept(arrival)
      }
      const candidate = (await this.#parts.candidates.of(memberId)).find((waiting) => sameHash(waiting.applicationToken, digest))
      if (candidate) return this.#storeUnder(candidate, arrival, ingest, again)
      if (type === 'ONAPPUPDATE' && row && row.status !== 'uninstalled' && auth.access_token && auth.domain && (await this.#newToken(auth as InstallAuth, row, arrival))) return ingest.accept(arrival)
    }
    verifyToken(credentials, this.#parts.tokens)
    return ingest.accept(arrival)
  }

  /**
   * What the worker does with a stored webhook event: those of a portal forgotten since it was
   * stored (uninstalled with `CLEAN`) go, unless a `B24_APP_TOKENS` entry accepts them. An
   * uninstall is always handed over. (Events of a pending install are not in the inbox until it
   * is confirmed.)
   */
  async admission(type: string, credentials: Credentials): Promise<Admission> {
    const { memberId } = credentials.portal
    const row = memberId ? await this.#parts.portals.get(memberId) : null
    if (row || type === 'ONAPPUNINSTALL' || this.#parts.tokens.accepts(credentials.applicationToken, memberId)) return { verdict: 'handle', portal: row }
    return { verdict: 'forget' }
  }

  /** Calls `memberId` as the application (`receiver.portal(memberId)`, `ctx.bitrix`). */
  portal(memberId: string): Bitrix {
    return portalCaller(this.#tokens, memberId, { timeoutMs: this.#parts.restTimeoutMs, logger: this.#parts.logger })
  }

  /** What `/health` says of the application: its portals, those to reinstall, the pending installs and their bounds, and a fatal error. */
  async health(): Promise<AppHealth> {
    const { portals, candidates } = this.#parts
    const rows = await portals.list()
    const waiting = await candidates.list()
    const { events } = await candidates.stats()
    const count = (status: PortalRow['status']) => rows.filter((row) => row.status === status).length
    const confirmed = new Set(rows.map((row) => row.memberId))
    const { inFlight, restingUntil } = this.#pending.figures()
    const options = this.#options
    return {
      portals: { active: count('active'), pending: new Set(waiting.filter((candidate) => !confirmed.has(candidate.memberId)).map((candidate) => candidate.memberId)).size, reinstall: count('reinstall'), uninstalled: count('uninstalled') },
      pendingInstalls: {
        candidates: waiting.length,
        events,
        confirming: inFlight,
        oauthRestingUntil: restingUntil === null ? null : new Date(restingUntil).toISOString(),
        limits: { perPortal: options.pendingPerPortal, installs: options.pendingInstalls, eventsPerInstall: options.pendingEvents, confirming: options.oauthConcurrency },
      },
      needReinstall: rows.filter((row) => row.status === 'reinstall').map(({ memberId, domain }) => ({ memberId, domain })),
      error: this.#fatal,
    }
  }

  async #install(auth: AuthBlock, arrival: Arrival, ingest: Ingest): Promise<void> {
    const { portals, candidates, sealer, logger } = this.#parts
    if (!auth.application_token) throw new UnauthorizedError('MISSING_TOKEN', 'auth[application_token] is missing')
    if (!auth.member_id) throw new UnauthorizedError('INVALID_TOKEN', 'auth[member_id] is missing')
    if (!auth.access_token || !auth.domain) throw new UnauthorizedError('INSTALL_NOT_CONFIRMED', 'the install cannot be confirmed: it has no auth[access_token] or auth[domain]')
    const install = auth as InstallAuth
    const memberId = install.member_id
    const now = Date.now()
    const candidate: NewCandidate = {
      memberId,
      domain: install.domain,
      clientEndpoint: install.client_endpoint ?? '',
      scope: install.scope ?? null,
      version: versionOf(dataOf(arrival)),
      applicationToken: sealer.digest(install.application_token),
      tokens: sealTokens({ accessToken: install.access_token, refreshToken: install.refresh_token ?? '' }, sealer),
      expiresAt: expiryOf(install, now),
      receivedAt: now,
    }
    // The same install again (a delivery repeated) while it waits: its event joins it, nobody is asked twice.
    const waiting = (await candidates.of(memberId)).find((other) => sameHash(other.applicationToken, candidate.applicationToken))
    if (waiting) return this.#storeUnder(waiting, arrival, ingest, false)
    let tries = 0
    const slot = this.#pending.acquire()
    if (slot) {
      let confirmed: ConfirmedInstall | null = null
      try {
        confirmed = await this.#confirm(claimOf(candidate, install.access_token))
        slot.release(true)
      } catch (error) {
        if (error instanceof UnauthorizedError) {
          slot.release(true)
          logger.warn({ memberId, reason: error.message }, 'refused an install the OAuth server does not confirm')
          throw error
        }
        slot.release(false)
        logger.warn({ memberId, portal: install.domain, code: (error as BitrixError).code }, 'the OAuth server cannot confirm an install now')
        tries = 1
      }
      if (confirmed) {
        const existing = await portals.get(memberId)
        await portals.put(activeRow(candidate, confirmed))
        logger.info({ memberId, portal: install.domain }, existing ? 'the application was installed again on a portal' : 'the application was installed on a portal')
        return ingest.accept(arrival)
      }
    }
    let id = 0
    await ingest.accept(arrival, async (record) => {
      const added = await candidates.add(candidate, record, { perPortal: this.#options.pendingPerPortal, total: this.#options.pendingInstalls })
      if ('refused' in added) {
        logger.warn({ memberId, portal: install.domain, bound: added.refused }, 'refused an install: too many installs are waiting for the OAuth server')
        throw new PendingInstallsFull(
          added.refused === 'perPortal'
            ? `this portal has ${this.#options.pendingPerPortal} installs waiting for the OAuth server to confirm them: try again later`
            : `${this.#options.pendingInstalls} installs are waiting for the OAuth server to confirm them: try again later`,
        )
      }
      id = added.id
    })
    logger.warn({ memberId, portal: install.domain }, 'an install the OAuth server has not confirmed is kept pending beside what the portal has (its events are stored, handled once it is confirmed)')
    this.#pending.schedule(id, tries)
  }

  // Stores an event under the pending install whose token it carries. Settled meanwhile, the
  // candidate is gone: the event is looked at again once (confirmed, it is the portal's now).
  async #storeUnder(candidate: CandidateRow, arrival: Arrival, ingest: Ingest, again: boolean): Promise<void> {
    const max = this.#options.pendingEvents
    try {
      await ingest.accept(arrival, async (record: NewRecord) => {
        const outcome = await this.#parts.candidates.append(candidate.id, record, max)
        if (outcome === 'full') throw new PendingInstallsFull(`the install of this portal waiting for the OAuth server holds ${max} events already: try again later`)
        if (outcome === 'gone') throw new CandidateGone()
      })
    } catch (error) {
      if (!(error instanceof CandidateGone)) throw error
      if (again) throw new InstallNotConfirmedYet()
      return this.#receive(arrival, ingest, true)
    }
  }

  /** An update that brings a new application token: `true` once the OAuth server vouched for it through the event's access token and it is stored. */
  async #newToken(auth: InstallAuth, row: PortalRow, arrival: Arrival): Promise<boolean> {
    const { portals, sealer, logger } = this.#parts
    const slot = this.#pending.acquire()
    if (!slot) throw new InstallNotConfirmedYet()
    let confirmed: ConfirmedInstall
    try {
      confirmed = await this.#confirm({ memberId: auth.member_id, domain: auth.domain, accessToken: auth.access_token, scope: row.scope })
      slot.release(true)
    } catch (error) {
      if (error instanceof UnauthorizedError) {
        slot.release(true)
        return false
      }
      slot.release(false)
      throw new InstallNotConfirmedYet({ cause: error })
    }
    await portals.update(auth.member_id, { applicationToken: sealer.digest(auth.application_token), clientEndpoint: confirmed.clientEndpoint, version: versionOf(dataOf(arrival)), updatedAt: Date.now() })
    logger.info({ memberId: auth.member_id, portal: row.domain }, 'the application was updated on a portal with a new application token')
    return true
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

  #confirm(claim: InstallClaim): Promise<ConfirmedInstall> {
    return confirmInstall(this.#oauth, this.#options.clientId, claim, this.#options.oauthTimeoutMs)
  }

  // One pending install, asked about in the background: confirmed, it becomes the portal (unless
  // an install confirmed since it arrived already has) and its events join the inbox; refused, it
  // goes with its events.
  async #confirmPending(id: number): Promise<Confirmation> {
    const { portals, candidates, sealer, logger } = this.#parts
    const candidate = await candidates.get(id)
    if (!candidate) {
      logger.debug({ candidate: id }, 'a pending install was settled elsewhere (another replica)')
      return 'gone'
    }
    const { memberId, domain } = candidate
    let confirmed: ConfirmedInstall
    try {
      confirmed = await this.#confirm(claimOf(candidate, openTokens(candidate.tokens, sealer).accessToken))
    } catch (error) {
      if (!(error instanceof UnauthorizedError)) return 'unanswered'
      await candidates.drop(id)
      logger.warn({ memberId, portal: domain, reason: error.message }, 'the OAuth server refused a pending install: it is dropped with its events, and nothing else of the portal')
      return 'answered'
    }
    const row = await portals.get(memberId)
    const newer = row !== null && row.installedAt > candidate.receivedAt
    await candidates.confirm(id, newer ? null : activeRow(candidate, confirmed))
    logger.info({ memberId, portal: domain }, newer ? 'a pending install is confirmed, an install confirmed since stays the portal: its events are handled' : 'a pending install is confirmed: it is the portal now, its events are handled')
    return 'answered'
  }
}

/** Whether a stored keyed hash is `digest` (constant time). */
function sameHash(stored: string | null, digest: string): boolean {
  if (stored === null) return false
  const a = Buffer.from(stored, 'hex')
  const b = Buffer.from(digest, 'hex')
  return a.length === b.length && timingSafeEqual(a, b)
}

/** What an install asks the OAuth server to confirm. */
const claimOf = ({ memberId, domain, scope }: Pick<NewCandidate, 'memberId' | 'domain' | 'scope'>, accessToken: string): InstallClaim => ({ memberId, domain, accessToken, scope })

/** The portal a confirmed install makes: what it brought, with the endpoint and scope the OAuth server confirmed. */
function activeRow(install: NewCandidate, confirmed: ConfirmedInstall): PortalRow {
  const { memberId, domain, version, applicationToken, tokens, expiresAt, receivedAt } = install
  return { memberId, domain, clientEndpoint: confirmed.clientEndpoint, status: 'active', scope: confirmed.scope, version, applicationToken, tokens, expiresAt, installedAt: receivedAt, updatedAt: Date.now() }
}

/** The `data` of a lifecycle event's wire (small: read whole). */
function dataOf(wire: Pick<Arrival, 'bodyKind' | 'body'>): Record<string, unknown> {
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
