import type { InstalledPortal, PortalRow } from '../../schemas/portal.ts'

const iso = (ms: number) => new Date(ms).toISOString()

/** The facts of a stored portal that may be shown (CLI, `ctx.portal`, `/health`): its tokens left out. */
export const installedPortal = ({ memberId, domain, clientEndpoint, status, scope, version, expiresAt, installedAt, updatedAt }: PortalRow): InstalledPortal => ({
  memberId,
  domain,
  clientEndpoint,
  status,
  scope,
  version,
  expiresAt: expiresAt === null ? null : iso(expiresAt),
  installedAt: iso(installedAt),
  updatedAt: iso(updatedAt),
})
