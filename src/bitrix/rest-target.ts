import { ConfigError } from '../errors.ts'

/** Where REST calls go and how they are authorized. */
export type RestTarget =
  /** An inbound webhook: the secret is part of the URL (`https://PORTAL/rest/USER_ID/SECRET/`). */
  | { kind: 'webhook'; baseUrl: string; domain: string; userId: number }
  /** OAuth: the portal's `client_endpoint` (`https://PORTAL/rest/`), the token sent as `auth`. */
  | { kind: 'oauth'; baseUrl: string; domain: string; accessToken: string }

/**
 * Reads an inbound webhook URL (`B24_REST_URL`).
 * @throws {ConfigError} when it is not `http(s)://HOST/rest/USER_ID/SECRET/` (the message never repeats the secret).
 */
export function webhookTarget(url: string): RestTarget {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new ConfigError('B24_REST_URL is not a URL: expected https://PORTAL/rest/USER_ID/SECRET/')
  }
  // A prefix before /rest/ is kept: a portal behind a proxy path still answers there.
  const match = /^(\/.*)?\/rest\/(\d+)\/([^/]+)\/?$/.exec(parsed.pathname)
  if (!match || !/^https?:$/.test(parsed.protocol) || parsed.search || parsed.username) {
    throw new ConfigError(`B24_REST_URL must look like https://PORTAL/rest/USER_ID/SECRET/ (got ${parsed.protocol}//${parsed.host}/…)`)
  }
  const [, prefix = '', userId, secret] = match
  return { kind: 'webhook', baseUrl: `${parsed.origin}${prefix}/rest/${userId}/${secret}/`, domain: parsed.hostname, userId: Number(userId) }
}

/** An OAuth target from an event's `auth` block (`client_endpoint`, `access_token`), or `null` without one. */
export function oauthTarget(block: Readonly<Record<string, string>> | undefined): RestTarget | null {
  const endpoint = block?.client_endpoint
  const accessToken = block?.access_token
  if (!endpoint || !accessToken) return null
  let parsed: URL
  try {
    parsed = new URL(endpoint)
  } catch {
    return null
  }
  if (!/^https?:$/.test(parsed.protocol)) return null
  return { kind: 'oauth', baseUrl: parsed.href.endsWith('/') ? parsed.href : `${parsed.href}/`, domain: parsed.hostname, accessToken }
}

/** What a log line may say about a target: host and kind, never the webhook secret or the token. */
export const describeTarget = (target: RestTarget): string => `${target.kind} ${target.domain}`
