import type { Logger } from 'pino'
import { UnauthorizedError } from '../auth/verify-token.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { Candidates, Portals } from '../store/store.ts'
import { activeRow, claimOf, type ConfirmedInstall, type InstallClaim } from './confirm-install.ts'
import type { Confirmation } from './pending-installs.ts'
import { openTokens } from './token-pair.ts'

export interface ConfirmPendingParts {
  portals: Portals
  candidates: Candidates
  sealer: Sealer
  logger: Logger
  confirm(claim: InstallClaim): Promise<ConfirmedInstall>
}

/**
 * One pending install, asked about in the background: confirmed, it becomes the portal (unless an
 * install confirmed since it arrived already has) and its events join the inbox; refused, it goes
 * with its events, and nothing else of the portal does.
 */
export function confirmPending({ portals, candidates, sealer, logger, confirm }: ConfirmPendingParts): (id: number) => Promise<Confirmation> {
  return async (id) => {
    const candidate = await candidates.get(id)
    if (!candidate) {
      logger.debug({ candidate: id }, 'a pending install was settled elsewhere (another replica)')
      return 'gone'
    }
    const { memberId, domain } = candidate
    let confirmed: ConfirmedInstall
    try {
      confirmed = await confirm(claimOf(candidate, openTokens(candidate.tokens, sealer).accessToken))
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
