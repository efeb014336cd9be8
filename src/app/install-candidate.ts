import type { NewCandidate } from '../../schemas/portal.ts'
import type { Arrival } from '../door/arrival.ts'
import type { AuthBlock } from '../event/credentials.ts'
import type { Sealer } from '../seal/sealer.ts'
import { appVersion } from './lifecycle-data.ts'
import { sealTokens } from './token-pair.ts'

/** An access token's lifetime when an install does not say (the docs: one hour). */
const ACCESS_TOKEN_MS = 3600000

/** An install's `auth` with what confirming it needs. */
export type InstallAuth = AuthBlock & { member_id: string; application_token: string; access_token: string; domain: string }

/** What an install brings, as the store keeps it until the OAuth server has settled it: its tokens sealed, its application token a keyed hash. */
export function installCandidate(install: InstallAuth, arrival: Pick<Arrival, 'bodyKind' | 'body'>, sealer: Sealer, now: number): NewCandidate {
  return {
    memberId: install.member_id,
    domain: install.domain,
    clientEndpoint: install.client_endpoint ?? '',
    scope: install.scope ?? null,
    version: appVersion(arrival),
    applicationToken: sealer.digest(install.application_token),
    tokens: sealTokens({ accessToken: install.access_token, refreshToken: install.refresh_token ?? '' }, sealer),
    expiresAt: expiryOf(install, now),
    receivedAt: now,
  }
}

/** When an install's access token expires, in whole ms: `expires` (unix seconds) if given, else `expires_in` seconds from now, else an hour. */
function expiryOf(auth: AuthBlock, now: number): number {
  const expires = Number(auth.expires)
  if (Number.isFinite(expires) && expires > 0) return Math.floor(expires * 1000)
  const seconds = Number(auth.expires_in)
  return Math.floor(now + (Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : ACCESS_TOKEN_MS))
}
