import { isIP } from 'node:net'
import { BitrixError } from './bitrix-error.ts'
import { isLoopbackAddress, isPrivateAddress } from './is-private-address.ts'
import { portalHost } from './portal-host.ts'
import { matchesHostPattern } from './portal-hosts.ts'
import type { PortalTrust } from './portal-trust.ts'
import type { RestTarget } from './rest-target.ts'

/** Application mode: the event's stored portal, as `app.info` confirmed it. */
export interface ConfirmedPortal {
  domain: string
  clientEndpoint: string
}

// As the application's own calls read it (src/app/portal-caller.ts), and as oauthTarget does.
const withSlash = (endpoint: string) => (endpoint.endsWith('/') ? endpoint : `${endpoint}/`)

const HOW = 'name it in portalHosts (B24_PORTAL_HOSTS) or pin it in the tokens (MEMBER_ID@DOMAIN:TOKEN in B24_APP_TOKENS)'

/**
 * Checks, before anything is sent, an OAuth target an event brought (`auth[client_endpoint]`,
 * `data[bot][auth][client_endpoint]`): whoever holds an application token writes it, and the
 * domain beside it, so neither proves anything alone. It must be `https://HOST/rest/`, HOST the
 * event's portal domain, and that domain trusted: a host pattern names it, a pin names it, or
 * `app.info` confirmed it (`confirmed`, application mode). The very endpoint `app.info` confirmed
 * for the event's stored portal is used as is: the application's own calls go there already
 * (src/app/portal-caller.ts), and the OAuth server, not the event, named it. A host that resolves to a
 * loopback, private or link-local address is refused unless a host pattern names it; plain
 * `http` only for a named host that resolves to this machine alone (a test's stand-in portal).
 * The host is resolved here and again by `fetch`: a DNS answer that changes in between is not
 * caught (a connection pinned to the checked address would be).
 * @throws {BitrixError} `UNTRUSTED_ENDPOINT` (fatal) saying why, naming the host, never the token;
 * `NETWORK_ERROR` when the host does not resolve.
 */
export async function checkEventTarget(method: string, target: RestTarget, portalDomain: string | null, trust: PortalTrust, confirmed: ConfirmedPortal | null): Promise<void> {
  const refuse = (why: string) => new BitrixError(method, 'UNTRUSTED_ENDPOINT', null, `the event's REST endpoint ${why}; nothing was sent`)
  const url = new URL(target.baseUrl)
  if (confirmed && withSlash(confirmed.clientEndpoint) === url.href) return
  if (url.pathname !== '/rest/' || url.search || url.hash || url.username || url.password) throw refuse('is not https://PORTAL/rest/')
  const domain = portalHost(portalDomain)
  if (!domain) throw refuse('cannot be checked: the event names no portal domain')
  if (domain.hostname !== url.hostname || domain.port !== url.port) throw refuse(`is not on the event's portal domain ${domain.host}`)
  const named = trust.hosts.some((pattern) => matchesHostPattern(pattern, url.hostname))
  const vouched = confirmed !== null && portalHost(confirmed.domain)?.host === domain.host
  if (!named && !vouched && !trust.pinnedDomains.has(domain.host)) throw refuse(`is on ${domain.host}, not a trusted portal: ${HOW}`)
  if (url.protocol !== 'https:' && !named) throw refuse(`is not https: plain http only for a host named in portalHosts (B24_PORTAL_HOSTS) on this machine`)
  const bare = url.hostname.replace(/^\[(.*)\]$/, '$1')
  let addresses: string[]
  try {
    addresses = isIP(bare) ? [bare] : await trust.lookup(bare)
  } catch (error) {
    throw new BitrixError(method, 'NETWORK_ERROR', null, `cannot resolve ${bare}: ${(error as { code?: string }).code ?? 'no address'}`)
  }
  if (addresses.length === 0) throw new BitrixError(method, 'NETWORK_ERROR', null, `cannot resolve ${bare}: no address`)
  if (!named && addresses.some(isPrivateAddress)) throw refuse(`is on ${domain.host}, which resolves to a loopback, private or link-local address: only a host named in portalHosts (B24_PORTAL_HOSTS) may`)
  if (url.protocol !== 'https:' && !addresses.every(isLoopbackAddress)) throw refuse(`is not https: plain http only for a host on this machine`)
}
