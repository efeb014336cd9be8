import type { TokenSet } from '../auth/token-set.ts'
import { verifyToken } from '../auth/verify-token.ts'
import type { Arrival } from './arrival.ts'
import type { Ingest } from './ingest.ts'

/** The door's last step: stores a verified arrival, in the inbox, or through `put` elsewhere (under an install not confirmed yet). */
export type Append = Ingest['accept']

/**
 * The door's middle step, a strategy: proves that an arrival comes from the portal it names, then
 * hands it to `append`, the next step. What it throws is the door's answer: 401 not proven, 503
 * not decidable or storable now.
 */
export type Verifier = (arrival: Arrival, append: Append) => Promise<void>

/** Verification by a fixed set of application tokens (`B24_APP_TOKENS`). */
export function tokenVerifier(tokens: TokenSet): Verifier {
  return async (arrival, append) => {
    verifyToken(arrival.credentials, tokens)
    await append(arrival)
  }
}
