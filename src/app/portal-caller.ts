import type { Logger } from 'pino'
import { BitrixError } from '../bitrix/bitrix-error.ts'
import type { RestCaller } from '../bitrix/bitrix.ts'
import type { Pacer } from '../bitrix/pacer.ts'
import { RestClient, type CallOptions, type RestParams } from '../bitrix/rest-client.ts'
import type { PortalTokens } from './portal-tokens.ts'

/** An access token this close to its expiry is refreshed before the call rather than after a refusal. */
const EARLY_MS = 60000

export interface PortalCallerOptions {
  /** How long one REST call may take. */
  timeoutMs: number
  logger?: Logger
  /** Paces the calls by the portal's bucket and sends limited ones again (the receiver's one pacer). */
  pacer?: Pacer
}

/**
 * Calls one portal as the application, with its stored tokens: an access token about to expire
 * is refreshed first, and a call the portal refuses with `expired_token` is made once more with
 * a refreshed token (the docs' way: settings/oauth/auto-renewal.md). Each call is paced by the
 * pacer, when given, waits through `wait` and ends with `signal` (see {@link RestClient.call}).
 */
export function portalCaller(tokens: PortalTokens, memberId: string, options: PortalCallerOptions): RestCaller {
  return {
    async call<T>(method: string, params: RestParams = {}, callOptions: CallOptions = {}) {
      const { row, tokens: pair } = await tokens.callable(memberId, method)
      const endpoint = row.clientEndpoint.endsWith('/') ? row.clientEndpoint : `${row.clientEndpoint}/`
      const attempt = (accessToken: string) => new RestClient({ kind: 'oauth', baseUrl: endpoint, domain: row.domain, accessToken }, options).call<T>(method, params, callOptions)
      let accessToken = pair.accessToken
      if (row.expiresAt !== null && row.expiresAt - Date.now() < EARLY_MS) accessToken = await tokens.refresh(memberId, accessToken, method)
      try {
        return await attempt(accessToken)
      } catch (error) {
        if (!(error instanceof BitrixError) || error.code !== 'expired_token') throw error
        return attempt(await tokens.refresh(memberId, accessToken, method))
      }
    },
  }
}
