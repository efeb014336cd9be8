/**
 * Bitrix24's cloud domain zones: a cloud portal is `NAME.bitrix24.ZONE`. The REST docs name no
 * list (bitrix24/b24restdocs market/preparing-to-publish/faq.md: "domain zones such as .com, .de,
 * and so on"; settings/cloud-and-on-premise/network-access.md: `www.bitrix24.*`; the Russian
 * edition, bitrix-tools/b24-rest-docs, the same page: `.ru`, `.by`, `.kz`); the zones are those
 * Bitrix24's help desk lists (helpdesk.bitrix24.de/open/10252860: de, eu, es, com.br, fr, it,
 * com.tr, ru, ua, pl, kz, com, by, in, cn, id, vn, jp) and `.uk`, the zone opened since. A
 * portal on a domain of its own (a Professional plan's, an on-premise one) is named in
 * `portalHosts` (`B24_PORTAL_HOSTS`) or by a pin in the tokens.
 */
export const BITRIX24_CLOUD_HOSTS: readonly string[] = [
  'com', 'de', 'eu', 'es', 'com.br', 'fr', 'it', 'com.tr', 'ru', 'ua', 'pl', 'kz', 'by', 'in', 'cn', 'id', 'vn', 'jp', 'uk',
].map((zone) => `*.bitrix24.${zone}`)

/**
 * Whether `hostname` (as the URL parser gives it: lower case, IPv6 in brackets) matches
 * `pattern`: `*.example.com` any host under example.com (not example.com itself), anything else
 * that host exactly (case-insensitive, brackets around IPv6 optional).
 */
export function matchesHostPattern(pattern: string, hostname: string): boolean {
  const host = unbracket(hostname.toLowerCase())
  const wanted = unbracket(pattern.trim().toLowerCase())
  return wanted.startsWith('*.') ? host.endsWith(wanted.slice(1)) && host.length > wanted.length - 1 : host === wanted
}

const unbracket = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host)

/** Splits `B24_PORTAL_HOSTS`: comma-separated, blanks around entries ignored. */
export const parseHostList = (list: string): string[] =>
  list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
