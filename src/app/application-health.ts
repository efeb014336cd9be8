import type { AppHealth } from '../../schemas/health.ts'
import type { PortalRow } from '../../schemas/portal.ts'
import type { Candidates, Portals } from '../store/store.ts'
import type { AppSettings } from './app-options.ts'
import type { PendingInstalls } from './pending-installs.ts'

export interface ApplicationHealthParts {
  portals: Portals
  candidates: Candidates
  pending: Pick<PendingInstalls, 'figures'>
  settings: AppSettings
  /** Why no portal can be called, or `null`. */
  fatal(): string | null
}

/** What `/health` says of the application: its portals, those to reinstall, the pending installs and their bounds, and a fatal error. */
export async function applicationHealth({ portals, candidates, pending, settings, fatal }: ApplicationHealthParts): Promise<AppHealth> {
  const rows = await portals.list()
  const waiting = await candidates.list()
  const { events } = await candidates.stats()
  const count = (status: PortalRow['status']) => rows.filter((row) => row.status === status).length
  const confirmed = new Set(rows.map((row) => row.memberId))
  const { inFlight, restingUntil } = pending.figures()
  return {
    portals: { active: count('active'), pending: new Set(waiting.filter((candidate) => !confirmed.has(candidate.memberId)).map((candidate) => candidate.memberId)).size, reinstall: count('reinstall'), uninstalled: count('uninstalled') },
    pendingInstalls: {
      candidates: waiting.length,
      events,
      confirming: inFlight,
      oauthRestingUntil: restingUntil === null ? null : new Date(restingUntil).toISOString(),
      limits: { perPortal: settings.pendingPerPortal, installs: settings.pendingInstalls, eventsPerInstall: settings.pendingEvents, confirming: settings.oauthConcurrency },
    },
    needReinstall: rows.filter((row) => row.status === 'reinstall').map(({ memberId, domain }) => ({ memberId, domain })),
    error: fatal(),
  }
}
