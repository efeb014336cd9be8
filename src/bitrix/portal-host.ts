/**
 * A portal's domain as `auth[domain]` or a pin writes it (`some.bitrix24.com`, `127.0.0.1:8443`),
 * read as a URL host: lower case, the default port dropped. `null` for anything that is more
 * than a host (a path, credentials, a scheme) or does not parse.
 */
export function portalHost(domain: string | null | undefined): URL | null {
  if (!domain) return null
  let parsed: URL
  try {
    parsed = new URL(`https://${domain}/`)
  } catch {
    return null
  }
  return parsed.href === `https://${parsed.host}/` ? parsed : null
}
