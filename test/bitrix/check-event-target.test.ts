import t from 'tap'
import { checkEventTarget } from '../../src/bitrix/check-event-target.ts'
import { BITRIX24_CLOUD_HOSTS } from '../../src/bitrix/portal-hosts.ts'
import type { PortalTrust } from '../../src/bitrix/portal-trust.ts'
import { oauthTarget } from '../../src/bitrix/rest-target.ts'

// DNS as the tests want it: no network, every answer written here.
const dns: Record<string, string[]> = {
  'p.bitrix24.com': ['203.0.113.5'],
  'inside.bitrix24.de': ['10.0.0.5'],
  'box.example.com': ['198.51.100.7'],
  'intranet.example.com': ['192.168.1.20'],
  'rebound.example.com': ['198.51.100.8', '127.0.0.1'],
  localhost: ['127.0.0.1', '::1'],
  'nowhere.example.com': [],
}
const lookup = async (host: string) => {
  const found = dns[host]
  if (found) return found
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' })
}
const trust = (changes: Partial<PortalTrust> = {}): PortalTrust => ({ hosts: BITRIX24_CLOUD_HOSTS, pinnedDomains: new Set(), lookup, ...changes })
const TOKEN = 'the-bots-access-token'
const target = (endpoint: string) => oauthTarget({ client_endpoint: endpoint, access_token: TOKEN }) as NonNullable<ReturnType<typeof oauthTarget>>

/** The check's verdict: `ok`, or the error's code and message (which must never carry the token). */
async function verdict(endpoint: string, domain: string | null, portals = trust(), confirmed: string | null = null): Promise<string> {
  try {
    await checkEventTarget('imbot.v2.Chat.Message.send', target(endpoint), domain, portals, confirmed === null ? null : { domain: confirmed, clientEndpoint: 'https://elsewhere.example/rest/' })
    return 'ok'
  } catch (error) {
    const { code, message, name } = error as { code: string; message: string; name: string }
    if (name !== 'BitrixError' || message.includes(TOKEN)) throw error
    return `${code}: ${message.replace(/^imbot\.v2\.Chat\.Message\.send: \w+: /, '')}`
  }
}

t.test("a cloud portal's own endpoint is used", async (t) => {
  t.equal(await verdict('https://p.bitrix24.com/rest/', 'p.bitrix24.com'), 'ok')
  t.equal(await verdict('https://P.Bitrix24.com/rest', 'p.BITRIX24.com:443'), 'ok', 'compared as hosts')
  t.equal(await verdict('https://inside.bitrix24.de/rest/', 'inside.bitrix24.de'), 'ok', 'a host the patterns name may resolve anywhere')
})

t.test('only https://DOMAIN/rest/, on the domain the event names', async (t) => {
  for (const endpoint of ['https://p.bitrix24.com/rest/x/', 'https://p.bitrix24.com/', 'https://p.bitrix24.com/rest/?a=1', 'https://u:pw@p.bitrix24.com/rest/', 'https://p.bitrix24.com/rest/#x']) {
    t.equal(await verdict(endpoint, 'p.bitrix24.com'), "UNTRUSTED_ENDPOINT: the event's REST endpoint is not https://PORTAL/rest/; nothing was sent", endpoint)
  }
  t.equal(await verdict('https://evil.bitrix24.com/rest/', 'p.bitrix24.com'), "UNTRUSTED_ENDPOINT: the event's REST endpoint is not on the event's portal domain p.bitrix24.com; nothing was sent")
  t.match(await verdict('https://p.bitrix24.com:8443/rest/', 'p.bitrix24.com'), /not on the event's portal domain/, 'nor another port')
  t.match(await verdict('https://p.bitrix24.com/rest/', null), /cannot be checked: the event names no portal domain/)
  t.match(await verdict('https://p.bitrix24.com/rest/', 'p.bitrix24.com/x'), /names no portal domain/, 'a domain that is more than a host')
})

t.test('a domain outside the patterns: only pinned or confirmed by app.info', async (t) => {
  t.equal(
    await verdict('https://box.example.com/rest/', 'box.example.com'),
    "UNTRUSTED_ENDPOINT: the event's REST endpoint is on box.example.com, not a trusted portal: name it in portalHosts (B24_PORTAL_HOSTS) or pin it in the tokens (MEMBER_ID@DOMAIN:TOKEN in B24_APP_TOKENS); nothing was sent",
  )
  t.equal(await verdict('https://box.example.com/rest/', 'box.example.com', trust({ pinnedDomains: new Set(['box.example.com']) })), 'ok', 'pinned')
  t.equal(await verdict('https://box.example.com/rest/', 'box.example.com', trust(), 'Box.Example.com'), 'ok', 'confirmed by app.info')
  t.match(await verdict('https://box.example.com/rest/', 'box.example.com', trust(), 'other.example.com'), /not a trusted portal/, 'another portal confirmed')
  t.equal(await verdict('https://box.example.com/rest/', 'box.example.com', trust({ hosts: ['*.example.com'] })), 'ok', 'named by a pattern')
  t.match(await verdict('https://p.bitrix24.com/rest/', 'p.bitrix24.com', trust({ hosts: ['*.example.com'] })), /not a trusted portal/, 'patterns given replace the cloud')
})

t.test('a host on a loopback, private or link-local address only when a pattern names it', async (t) => {
  const pinned = (host: string) => trust({ pinnedDomains: new Set([host]) })
  const refused = /UNTRUSTED_ENDPOINT: .* resolves to a loopback, private or link-local address: only a host named in portalHosts \(B24_PORTAL_HOSTS\) may/
  t.match(await verdict('https://intranet.example.com/rest/', 'intranet.example.com', pinned('intranet.example.com')), refused, 'a pin is not enough')
  t.match(await verdict('https://intranet.example.com/rest/', 'intranet.example.com', trust(), 'intranet.example.com'), refused, 'nor app.info')
  t.match(await verdict('https://rebound.example.com/rest/', 'rebound.example.com', pinned('rebound.example.com')), refused, 'any of its addresses')
  t.match(await verdict('https://169.254.169.254/rest/', '169.254.169.254', pinned('169.254.169.254')), refused, 'an address itself')
  t.match(await verdict('https://[::1]:8443/rest/', '[::1]:8443', pinned('[::1]:8443')), refused)
  t.equal(await verdict('https://intranet.example.com/rest/', 'intranet.example.com', trust({ hosts: ['intranet.example.com'] })), 'ok', 'named')
  t.equal(await verdict('https://127.0.0.1:8443/rest/', '127.0.0.1:8443', trust({ hosts: ['127.0.0.1'] })), 'ok', 'a stand-in portal named')
  t.equal(await verdict('https://[::1]:8443/rest/', '[::1]:8443', trust({ hosts: ['::1'] })), 'ok')
})

t.test('plain http only for a named host on this machine', async (t) => {
  t.equal(await verdict('http://127.0.0.1:8080/rest/', '127.0.0.1:8080', trust({ hosts: ['127.0.0.1'] })), 'ok')
  t.equal(await verdict('http://localhost:8080/rest/', 'localhost:8080', trust({ hosts: ['localhost'] })), 'ok')
  t.match(await verdict('http://127.0.0.1:8080/rest/', '127.0.0.1:8080', trust({ pinnedDomains: new Set(['127.0.0.1:8080']) })), /is not https: plain http only for a host named in portalHosts/)
  t.match(await verdict('http://p.bitrix24.com/rest/', 'p.bitrix24.com'), /is not https: plain http only for a host on this machine/, 'the cloud over http')
  t.match(await verdict('http://rebound.example.com/rest/', 'rebound.example.com', trust({ hosts: ['rebound.example.com'] })), /plain http only for a host on this machine/, 'every address')
})

t.test('a host that does not resolve fails as the network would', async (t) => {
  t.equal(await verdict('https://gone.bitrix24.com/rest/', 'gone.bitrix24.com'), 'NETWORK_ERROR: cannot resolve gone.bitrix24.com: ENOTFOUND')
  t.equal(await verdict('https://nowhere.example.com/rest/', 'nowhere.example.com', trust({ hosts: ['*.example.com'] })), 'NETWORK_ERROR: cannot resolve nowhere.example.com: no address')
  t.equal(await verdict('https://p.bitrix24.com/rest/', 'p.bitrix24.com', trust({ lookup: () => Promise.reject(new Error('no code')) })), 'NETWORK_ERROR: cannot resolve p.bitrix24.com: no address')
})

t.test("application mode: the endpoint app.info confirmed for the event's portal is used as is", async (t) => {
  const confirmed = { domain: 'portal-1.bitrix24.com', clientEndpoint: 'http://127.0.0.1:9/portal/m1/rest' }
  await t.resolves(checkEventTarget('x', target('http://127.0.0.1:9/portal/m1/rest/'), 'portal-1.bitrix24.com', trust({ hosts: [] }), confirmed))
  await t.rejects(checkEventTarget('x', target('http://127.0.0.1:9/portal/m2/rest/'), 'portal-1.bitrix24.com', trust({ hosts: [] }), confirmed), { code: 'UNTRUSTED_ENDPOINT' }, 'another endpoint: the rules')
})
