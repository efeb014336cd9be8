import type { CandidateRow, PortalRow } from '../../schemas/portal.ts'
import type { TokenSet } from '../auth/token-set.ts'
import { UnauthorizedError, verifyToken } from '../auth/verify-token.ts'
import type { Arrival } from '../door/arrival.ts'
import type { Append, Verifier } from '../door/verifier.ts'
import type { DeadLetters, NewRecord } from '../store/store.ts'
import { CandidateGone, InstallNotConfirmedYet, PendingInstallsFull } from './install-errors.ts'
import type { InstallAuth } from './install-candidate.ts'
import { appVersion, lifecycleData } from './lifecycle-data.ts'
import { receiveInstall, type InstallDoorParts } from './receive-install.ts'
import { sameHash } from './same-hash.ts'

export interface ApplicationDoorParts extends InstallDoorParts {
  deadLetters: DeadLetters
  /** The `B24_APP_TOKENS` entries: what they accept is accepted whatever becomes of a portal. */
  tokens: TokenSet
}

/**
 * The door's verification in application mode. An install is confirmed with the OAuth server
 * first ({@link receiveInstall}); any other event passes with its portal's application token (an
 * update or an uninstall is applied then, before the 200), or a pending install's (stored under
 * it, apart from the inbox), or an update's new token the OAuth server vouches for, or a
 * `B24_APP_TOKENS` entry.
 */
export function applicationVerifier(parts: ApplicationDoorParts): Verifier {
  const { portals, candidates, sealer, logger, bounds } = parts

  // `again`: the event's pending install was settled while it was being stored, and this looks once more.
  const verify = async (arrival: Arrival, append: Append, again: boolean): Promise<void> => {
    const { type, credentials } = arrival
    const auth = credentials.auth ?? {}
    if (type === 'ONAPPINSTALL') return receiveInstall(parts, auth, arrival, append, (candidate) => storeUnder(candidate, arrival, append, false))
    const memberId = auth.member_id
    const token = credentials.applicationToken
    if (memberId && token) {
      const digest = sealer.digest(token)
      const row = await portals.get(memberId)
      // An uninstalled portal keeps no token: nothing matches it.
      if (row && sameHash(row.applicationToken, digest)) {
        if (type === 'ONAPPUPDATE') await portals.update(memberId, { version: appVersion(arrival), updatedAt: Date.now() })
        if (type === 'ONAPPUNINSTALL') await uninstall(row, String(lifecycleData(arrival).CLEAN ?? '') === '1')
        return append(arrival)
      }
      const candidate = (await candidates.of(memberId)).find((waiting) => sameHash(waiting.applicationToken, digest))
      if (candidate) return storeUnder(candidate, arrival, append, again)
      if (type === 'ONAPPUPDATE' && row && row.status !== 'uninstalled' && auth.access_token && auth.domain && (await newToken(auth as InstallAuth, row, arrival))) return append(arrival)
    }
    verifyToken(credentials, parts.tokens)
    return append(arrival)
  }

  // Stores an event under the pending install whose token it carries. Settled meanwhile, the
  // candidate is gone: the event is looked at again once (confirmed, it is the portal's now).
  const storeUnder = async (candidate: CandidateRow, arrival: Arrival, append: Append, again: boolean): Promise<void> => {
    const max = bounds.pendingEvents
    try {
      await append(arrival, async (record: NewRecord) => {
        const outcome = await candidates.append(candidate.id, record, max)
        if (outcome === 'full') throw new PendingInstallsFull(`the install of this portal waiting for the OAuth server holds ${max} events already: try again later`)
        if (outcome === 'gone') throw new CandidateGone()
      })
    } catch (error) {
      if (!(error instanceof CandidateGone)) throw error
      if (again) throw new InstallNotConfirmedYet()
      return verify(arrival, append, true)
    }
  }

  // An update that brings a new application token: `true` once the OAuth server vouched for it
  // through the event's access token and it is stored.
  const newToken = async (auth: InstallAuth, row: PortalRow, arrival: Arrival): Promise<boolean> => {
    const slot = parts.pending.acquire()
    if (!slot) throw new InstallNotConfirmedYet()
    let clientEndpoint: string
    try {
      ;({ clientEndpoint } = await parts.confirm({ memberId: auth.member_id, domain: auth.domain, accessToken: auth.access_token, scope: row.scope }))
      slot.release(true)
    } catch (error) {
      if (error instanceof UnauthorizedError) {
        slot.release(true)
        return false
      }
      slot.release(false)
      throw new InstallNotConfirmedYet({ cause: error })
    }
    await portals.update(auth.member_id, { applicationToken: sealer.digest(auth.application_token), clientEndpoint, version: appVersion(arrival), updatedAt: Date.now() })
    logger.info({ memberId: auth.member_id, portal: row.domain }, 'the application was updated on a portal with a new application token')
    return true
  }

  const uninstall = async (row: PortalRow, clean: boolean): Promise<void> => {
    if (clean) {
      await portals.delete(row.memberId)
      for (const letter of await parts.deadLetters.list()) if (letter.portal.memberId === row.memberId) await parts.deadLetters.drop(letter.id)
    } else {
      await portals.update(row.memberId, { status: 'uninstalled', applicationToken: null, tokens: null, expiresAt: null, updatedAt: Date.now() })
    }
    logger.info({ memberId: row.memberId, portal: row.domain, clean }, clean ? 'the application was uninstalled from a portal: everything stored for it is deleted' : 'the application was uninstalled from a portal: its tokens are deleted')
  }

  return (arrival, append) => verify(arrival, append, false)
}
