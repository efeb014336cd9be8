import type { NewCandidate, PortalRow } from '../../schemas/portal.ts'
import { UnauthorizedError } from '../auth/verify-token.ts'
import { BitrixError } from '../bitrix/bitrix-error.ts'
import { isDefinite, type OAuthServer } from './oauth-server.ts'
import { isSecureUrl } from './secure-url.ts'

/** What an install says of itself, to be confirmed: nothing in it is trusted before. */
export interface InstallClaim {
  memberId: string
  domain: string
  accessToken: string
  /** The scope the install names: kept when the OAuth server names none. */
  scope: string | null
}

/** What the OAuth server confirmed: the endpoint to call the portal at, and the granted scope. */
export interface ConfirmedInstall {
  clientEndpoint: string
  scope: string | null
}

const refused = (reason: string, options?: ErrorOptions) => new UnauthorizedError('INSTALL_NOT_CONFIRMED', `the install is not confirmed: ${reason}`, options)

/**
 * Asks the OAuth server (`app.info` with the install's access token) whether this is an install
 * of our application on the portal it names: the token must be known and ours (`client_id`), and
 * the portal it was issued on (`install.member_id`, `install.domain`) the one the install names.
 * The endpoint kept is the one the server gives, never the payload's.
 * @throws {UnauthorizedError} `INSTALL_NOT_CONFIRMED` when the server says no;
 *   {BitrixError} when it cannot answer (no answer, timeout, 5xx): try again later.
 */
export async function confirmInstall(oauth: Pick<OAuthServer, 'appInfo'>, clientId: string, claim: InstallClaim, timeoutMs: number): Promise<ConfirmedInstall> {
  let info
  try {
    info = await oauth.appInfo(claim.accessToken, timeoutMs)
  } catch (error) {
    if (error instanceof BitrixError && isDefinite(error)) throw refused(`the OAuth server does not know its access token (${error.code})`, { cause: error })
    throw error
  }
  if (info.clientId !== clientId) throw refused('its access token belongs to another application')
  if (info.install.memberId !== claim.memberId) throw refused('its member_id is not the portal its access token was issued on')
  if (info.install.domain.toLowerCase() !== claim.domain.toLowerCase()) throw refused('its domain is not the portal its access token was issued on')
  if (!isSecureUrl(info.install.clientEndpoint)) throw refused("the portal's client endpoint is neither https nor on a loopback address")
  return { clientEndpoint: info.install.clientEndpoint, scope: info.scope ?? claim.scope }
}

/** What a candidate install asks the OAuth server to confirm, with its access token. */
export const claimOf = ({ memberId, domain, scope }: Pick<NewCandidate, 'memberId' | 'domain' | 'scope'>, accessToken: string): InstallClaim => ({ memberId, domain, accessToken, scope })

/** The portal a confirmed install makes: what it brought, with the endpoint and scope the OAuth server confirmed. */
export function activeRow(install: NewCandidate, confirmed: ConfirmedInstall): PortalRow {
  const { memberId, domain, version, applicationToken, tokens, expiresAt, receivedAt } = install
  return { memberId, domain, clientEndpoint: confirmed.clientEndpoint, status: 'active', scope: confirmed.scope, version, applicationToken, tokens, expiresAt, installedAt: receivedAt, updatedAt: Date.now() }
}
