/**
 * Whether tokens or the client secret may be sent to `url`: https, or plain http only to this
 * machine (`localhost`, `127.0.0.0/8`, `[::1]`: a local proxy or a test server), and no
 * credentials in the URL itself. Anything that does not parse is not.
 */
export function isSecureUrl(url: string): boolean {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return false
  }
  if (parsed.username !== '' || parsed.password !== '') return false
  if (parsed.protocol === 'https:') return true
  return parsed.protocol === 'http:' && isLoopback(parsed.hostname)
}

// The URL parser has normalised the host already: lower case, IPv4 in dotted decimal (`127.1`,
// `0x7f.0.0.1` read as `127.0.0.1`), IPv6 compressed in brackets.
const isLoopback = (host: string): boolean => host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
