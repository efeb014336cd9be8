import type { Logger } from 'pino'
import type { AppHealth } from '../../schemas/health.ts'
import type { TokenSet } from '../auth/token-set.ts'
import type { RestCaller } from '../bitrix/bitrix.ts'
import type { Pacer } from '../bitrix/pacer.ts'
import type { Verifier } from '../door/verifier.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { Candidates, DeadLetters, Leases, Portals } from '../store/store.ts'
import type { Admitter } from '../worker/steps/admission.ts'
import { appSettings, type AppOptions } from './app-options.ts'
import { applicationHealth } from './application-health.ts'
import { applicationVerifier } from './application-verifier.ts'
import type { Clock } from '../clock.ts'
import { confirmInstall, type InstallClaim } from './confirm-install.ts'
import { confirmPending } from './confirm-pending.ts'
import { OAuthServer } from './oauth-server.ts'
import { PendingInstalls } from './pending-installs.ts'
import { portalCaller } from './portal-caller.ts'
import { portalAdmission } from './portal-admission.ts'
import { PortalTokens } from './portal-tokens.ts'

export interface ApplicationParts {
  options: AppOptions
  portals: Portals
  /** The installs the OAuth server has not settled yet, and their events. */
  candidates: Candidates
  /** The store's leases: one refresh per portal across replicas. */
  leases: Leases
  deadLetters: DeadLetters
  sealer: Sealer
  logger: Logger
  /** How long one REST call may take. */
  restTimeoutMs: number
  /** Paces the calls to the portals by their buckets (the receiver's one pacer); without it each call goes at once. */
  pacer?: Pacer
  /** This replica, as the owner of the store's refresh leases. */
  owner: string
  /** The `B24_APP_TOKENS` entries: what they accept is kept whatever becomes of a portal. */
  tokens: TokenSet
  /** What the confirmations' pauses are timed by (`options.clock`, else the receiver's). */
  clock: Clock
}

/**
 * Application mode: one service for every portal that installs the application, made of parts
 * with one job each: the door's {@link verify} (installs confirmed with the OAuth server, each
 * portal's own token, updates and uninstalls), the worker's {@link admission}, the
 * {@link portal} caller, the confirmations of pending installs in the background, and
 * {@link health}.
 *
 * An install the OAuth server cannot confirm now replaces and hides nothing: it waits as a
 * candidate of its portal, beside the portal's row and any other candidate, with its own token and
 * the events that come with it; confirmed, it becomes the portal and its events are handled;
 * refused, it goes with its events, and nothing else of the portal does.
 */
export class Application implements Admitter {
  /** The door's verification strategy in application mode. */
  readonly verify: Verifier
  /** The worker's admission step asks it what becomes of a stored webhook event (see {@link portalAdmission}). */
  readonly admission: Admitter['admission']
  /** What `/health` says of the application. */
  readonly health: () => Promise<AppHealth>
  readonly #parts: ApplicationParts
  readonly #tokens: PortalTokens
  readonly #pending: PendingInstalls
  #fatal: string | null = null

  constructor(parts: ApplicationParts) {
    const { portals, candidates, sealer, logger } = parts
    const settings = appSettings(parts.options)
    const oauth = new OAuthServer({ url: settings.oauthUrl, clientId: settings.clientId, clientSecret: settings.clientSecret, timeoutMs: parts.restTimeoutMs, logger })
    const confirm = (claim: InstallClaim) => confirmInstall(oauth, settings.clientId, claim, settings.oauthTimeoutMs)
    this.#parts = parts
    this.#tokens = new PortalTokens({
      portals,
      candidates,
      leases: parts.leases,
      sealer,
      oauth,
      logger,
      owner: parts.owner,
      onClientRefused: (code) => {
        this.#fatal = `the OAuth server refuses B24_CLIENT_ID or B24_CLIENT_SECRET (${code}): fix them and restart`
        logger.fatal({ code }, this.#fatal)
      },
    })
    this.#pending = new PendingInstalls({
      confirm: confirmPending({ portals, candidates, sealer, logger, confirm }),
      logger,
      maxInFlight: settings.oauthConcurrency,
      retryBaseMs: settings.confirmRetryBaseMs,
      retryMaxMs: settings.confirmRetryMaxMs,
      clock: parts.clock,
    })
    this.verify = applicationVerifier({ portals, candidates, deadLetters: parts.deadLetters, sealer, logger, tokens: parts.tokens, pending: this.#pending, confirm, bounds: settings })
    this.admission = portalAdmission(portals, parts.tokens)
    this.health = () => applicationHealth({ portals, candidates, pending: this.#pending, settings, fatal: () => this.#fatal })
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

  /** Calls `memberId` as the application (`receiver.portal(memberId)`, `ctx.bitrix`), with its stored tokens. */
  portal(memberId: string): RestCaller {
    return portalCaller(this.#tokens, memberId, { timeoutMs: this.#parts.restTimeoutMs, logger: this.#parts.logger, pacer: this.#parts.pacer })
  }
}
