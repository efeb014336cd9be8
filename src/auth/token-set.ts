import { createHash, timingSafeEqual } from 'node:crypto'

/** One accepted application token, optionally pinned to one portal (`member_id`). */
interface AcceptedToken {
  digest: Buffer
  memberId: string | null
}

/** The application tokens a receiver accepts; built once, checked in constant time. */
export interface TokenSet {
  readonly size: number
  /** Whether `token` is accepted for the portal `memberId`; never exits early on a mismatch. */
  accepts(token: string | undefined, memberId: string | null): boolean
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest()

/**
 * Builds a token set from `B24_APP_TOKENS`-style entries: `token` accepts it from any portal,
 * `memberId:token` only from that portal. Comparison is on SHA-256 digests with
 * `timingSafeEqual`, against every entry, so timing tells nothing about how close a guess was.
 */
export function createTokenSet(entries: readonly string[]): TokenSet {
  const accepted: AcceptedToken[] = entries.map((entry) => {
    const colon = entry.indexOf(':')
    return colon === -1 ? { digest: digest(entry), memberId: null } : { digest: digest(entry.slice(colon + 1)), memberId: entry.slice(0, colon) }
  })
  return {
    size: accepted.length,
    accepts(token, memberId) {
      if (!token) return false
      const offered = digest(token)
      let match = false
      for (const candidate of accepted) {
        const equal = timingSafeEqual(candidate.digest, offered)
        match = (equal && (candidate.memberId === null || candidate.memberId === memberId)) || match
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
