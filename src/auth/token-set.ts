import { createHash, timingSafeEqual } from 'node:crypto'
import { portalHost } from '../bitrix/portal-host.ts'
import { ConfigError } from '../errors.ts'

/** One accepted application token, optionally pinned to one portal (`member_id`, and its domain). */
interface AcceptedToken {
  digest: Buffer
  memberId: string | null
  /** The pinned domain as a URL host (`host[:port]`, lower case), or `null`. */
  domain: string | null
}

/** The application tokens a receiver accepts; built once, checked in constant time. */
export interface TokenSet {
  readonly size: number
  /** The domains pins name (`MEMBER_ID@DOMAIN:TOKEN`), as URL hosts: `ctx.bitrix` may call them. */
  readonly domains: ReadonlySet<string>
  /**
   * Whether `token` is accepted for the portal `memberId` at `domain` (its `auth[domain]`); never
   * exits early on a mismatch. An entry that pins a domain accepts no other, nor an event without
   * one; `domain` left out (`undefined`) is not judged: a caller that re-checks an event the door
   * has judged already (application mode's admission of a stored event).
   */
  accepts(token: string | undefined, memberId: string | null, domain?: string | null): boolean
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest()

// `MEMBER_ID@DOMAIN:TOKEN`; the domain may carry a port (`m@portal.example:8443:TOKEN`).
const PINNED_DOMAIN = /^([^:@]+)@([^:@/]+(?::\d+)?):(.+)$/

/**
 * Builds a token set from `B24_APP_TOKENS`-style entries: `token` accepts it from any portal,
 * `memberId:token` only from that portal (`member_id`), `memberId@domain:token` only from that
 * portal at that domain. Comparison is on SHA-256 digests with `timingSafeEqual`, against every
 * entry, so timing tells nothing about how close a guess was.
 * @throws {ConfigError} for a pinned domain that is not a host (the message never repeats the token).
 */
export function createTokenSet(entries: readonly string[]): TokenSet {
  const accepted: AcceptedToken[] = entries.map((entry, index) => {
    const colon = entry.indexOf(':')
    if (colon !== -1 && entry.slice(0, colon).includes('@')) {
      const [, memberId = '', domain = '', token = ''] = PINNED_DOMAIN.exec(entry) ?? []
      const host = portalHost(domain)?.host
      if (!host) throw new ConfigError(`tokens: entry ${index + 1} pins a domain that is not a host name (MEMBER_ID@DOMAIN:TOKEN)`)
      return { digest: digest(token), memberId, domain: host }
    }
    return colon === -1 ? { digest: digest(entry), memberId: null, domain: null } : { digest: digest(entry.slice(colon + 1)), memberId: entry.slice(0, colon), domain: null }
  })
  return {
    size: accepted.length,
    domains: new Set(accepted.flatMap((entry) => (entry.domain === null ? [] : [entry.domain]))),
    accepts(token, memberId, domain) {
      if (!token) return false
      const offered = digest(token)
      const host = domain === undefined ? undefined : (portalHost(domain)?.host ?? null)
      let match = false
      for (const candidate of accepted) {
        const equal = timingSafeEqual(candidate.digest, offered)
        const portal = (candidate.memberId === null || candidate.memberId === memberId) && (candidate.domain === null || host === undefined || candidate.domain === host)
        match = (equal && portal) || match
      }
      return match
    },
  }
}

/** Splits `B24_APP_TOKENS`: comma-separated, blanks around entries ignored. */
export const parseTokenList = (list: string): string[] =>
  list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
