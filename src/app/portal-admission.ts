import type { TokenSet } from '../auth/token-set.ts'
import type { Portals } from '../store/store.ts'
import type { Admitter } from '../worker/steps/admission.ts'

/**
 * Application mode's answer to the worker's admission step, asked once per attempt: an event of a
 * portal forgotten since it was stored (uninstalled with `CLEAN`) goes, unless a `B24_APP_TOKENS`
 * entry accepts it. An uninstall is always handed over. The portal row read for it is the one
 * `ctx.portal` shows: one read. (Events of a pending install are not in the inbox until it is
 * confirmed.)
 */
export function portalAdmission(portals: Portals, tokens: TokenSet): Admitter['admission'] {
  return async (type, credentials) => {
    const { memberId } = credentials.portal
    const row = memberId ? await portals.get(memberId) : null
    if (row || type === 'ONAPPUNINSTALL' || tokens.accepts(credentials.applicationToken, memberId)) return { verdict: 'handle', portal: row }
    return { verdict: 'forget' }
  }
}
