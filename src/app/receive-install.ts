import type { Logger } from 'pino'
import type { CandidateRow } from '../../schemas/portal.ts'
import { UnauthorizedError } from '../auth/verify-token.ts'
import type { BitrixError } from '../bitrix/bitrix-error.ts'
import type { Arrival } from '../door/arrival.ts'
import type { AuthBlock } from '../event/credentials.ts'
import type { Append } from '../door/verifier.ts'
import type { Candidates, Portals } from '../store/store.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { AppSettings } from './app-options.ts'
import { activeRow, claimOf, type ConfirmedInstall, type InstallClaim } from './confirm-install.ts'
import { installCandidate, type InstallAuth } from './install-candidate.ts'
import { PendingInstallsFull } from './install-errors.ts'
import type { PendingInstalls } from './pending-installs.ts'
import { sameHash } from './same-hash.ts'

/** What the door of application mode works with. */
export interface InstallDoorParts {
  portals: Portals
  candidates: Candidates
  sealer: Sealer
  logger: Logger
  /** The confirmations: the door takes a free slot, or leaves its install to them as a candidate. */
  pending: Pick<PendingInstalls, 'acquire' | 'schedule'>
  /** Asks the OAuth server about an install. */
  confirm(claim: InstallClaim): Promise<ConfirmedInstall>
  bounds: Pick<AppSettings, 'pendingPerPortal' | 'pendingInstalls' | 'pendingEvents'>
}

/** Stores the install's event under a candidate. */
export type StoreUnder = (candidate: CandidateRow) => Promise<void>

/**
 * `ONAPPINSTALL` at the door: its application token cannot prove it (the install issues it), so
 * the OAuth server is asked first. Confirmed, it becomes the portal and is appended; refused, 401
 * and nothing stored; unanswered (or no slot free), it is kept as a candidate beside what the
 * portal has, with its event, for the confirmations to settle. The same install again while it
 * waits joins it.
 * @throws {UnauthorizedError} not an install, or refused; {PendingInstallsFull} past a bound.
 */
export async function receiveInstall(parts: InstallDoorParts, auth: AuthBlock, arrival: Arrival, append: Append, storeUnder: StoreUnder): Promise<void> {
  const { portals, candidates, sealer, logger, pending, bounds } = parts
  if (!auth.application_token) throw new UnauthorizedError('MISSING_TOKEN', 'auth[application_token] is missing')
  if (!auth.member_id) throw new UnauthorizedError('INVALID_TOKEN', 'auth[member_id] is missing')
  if (!auth.access_token || !auth.domain) throw new UnauthorizedError('INSTALL_NOT_CONFIRMED', 'the install cannot be confirmed: it has no auth[access_token] or auth[domain]')
  const install = auth as InstallAuth
  const memberId = install.member_id
  const candidate = installCandidate(install, arrival, sealer, Date.now())
  // The same install again (a delivery repeated) while it waits: its event joins it, nobody is asked twice.
  const waiting = (await candidates.of(memberId)).find((other) => sameHash(other.applicationToken, candidate.applicationToken))
  if (waiting) return storeUnder(waiting)
  let tries = 0
  const slot = pending.acquire()
  if (slot) {
    let confirmed: ConfirmedInstall | null = null
    try {
      confirmed = await parts.confirm(claimOf(candidate, install.access_token))
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
      return append(arrival)
    }
  }
  let id = 0
  await append(arrival, async (record) => {
    const added = await candidates.add(candidate, record, { perPortal: bounds.pendingPerPortal, total: bounds.pendingInstalls })
    if ('refused' in added) {
      logger.warn({ memberId, portal: install.domain, bound: added.refused }, 'refused an install: too many installs are waiting for the OAuth server')
      throw new PendingInstallsFull(
        added.refused === 'perPortal'
          ? `this portal has ${bounds.pendingPerPortal} installs waiting for the OAuth server to confirm them: try again later`
          : `${bounds.pendingInstalls} installs are waiting for the OAuth server to confirm them: try again later`,
      )
    }
    id = added.id
  })
  logger.warn({ memberId, portal: install.domain }, 'an install the OAuth server has not confirmed is kept pending beside what the portal has (its events are stored, handled once it is confirmed)')
  pending.schedule(id, tries)
}
