import { lookup } from 'node:dns/promises'
import { BITRIX24_CLOUD_HOSTS } from './portal-hosts.ts'

/** Resolves a host name to its IP addresses. */
export type LookupHost = (hostname: string) => Promise<string[]>

/** The system resolver (`dns.lookup`, as `fetch` itself resolves), every address of the host. */
export const systemLookup: LookupHost = async (hostname) => (await lookup(hostname, { all: true })).map(({ address }) => address)

/** Which portals `ctx.bitrix` may send an event's tokens to, besides the one `app.info` confirmed. */
export interface PortalTrust {
  /** Host patterns (`portalHosts`, `B24_PORTAL_HOSTS`): `*.bitrix24.com`, `portal.example.com`, `127.0.0.1`. */
  hosts: readonly string[]
  /** The domains the tokens' pins name (`MEMBER_ID@DOMAIN:TOKEN`), as `host[:port]` in lower case. */
  pinnedDomains: ReadonlySet<string>
  lookup: LookupHost
}

/** Bitrix24's cloud, nothing pinned, the system resolver: what a client made without settings trusts. */
export const DEFAULT_PORTAL_TRUST: PortalTrust = { hosts: BITRIX24_CLOUD_HOSTS, pinnedDomains: new Set(), lookup: systemLookup }
