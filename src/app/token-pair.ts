import type { Sealer } from '../seal/sealer.ts'

/** A portal's OAuth tokens: the access token (an hour) and the single-use refresh token it rotates with. */
export interface TokenPair {
  accessToken: string
  refreshToken: string
}

/** The pair as the store keeps it: sealed together, so one cannot be replaced without the other. */
export const sealTokens = (pair: TokenPair, sealer: Sealer): string => sealer.seal(JSON.stringify({ accessToken: pair.accessToken, refreshToken: pair.refreshToken }))

/** The pair {@link sealTokens} sealed; throws `SealError` under another key. */
export const openTokens = (sealed: string, sealer: Sealer): TokenPair => JSON.parse(sealer.open(sealed)) as TokenPair
