import t from 'tap'
import { isLoopbackAddress, isPrivateAddress } from '../../src/bitrix/is-private-address.ts'
import { portalHost } from '../../src/bitrix/portal-host.ts'
import { BITRIX24_CLOUD_HOSTS, matchesHostPattern, parseHostList } from '../../src/bitrix/portal-hosts.ts'
import { DEFAULT_PORTAL_TRUST, systemLookup } from '../../src/bitrix/portal-trust.ts'

t.test("Bitrix24's cloud zones by default", async (t) => {
  for (const host of ['b24-abc.bitrix24.com', 'x.bitrix24.de', 'x.bitrix24.com.br', 'x.bitrix24.ru', 'x.bitrix24.uk']) t.ok(DEFAULT_PORTAL_TRUST.hosts.some((pattern) => matchesHostPattern(pattern, host)), host)
  for (const host of ['bitrix24.com', 'evilbitrix24.com', 'x.bitrix24.com.evil.example', 'x.bitrix24.site', 'x.bitrix24.io']) t.notOk(BITRIX24_CLOUD_HOSTS.some((pattern) => matchesHostPattern(pattern, host)), host)
})

t.test('host patterns: *.domain for any host under it, else one host exactly', async (t) => {
  t.ok(matchesHostPattern('*.example.com', 'a.b.example.com'))
  t.ok(matchesHostPattern(' *.Example.COM ', 'A.example.com'))
  t.notOk(matchesHostPattern('*.example.com', 'example.com'))
  t.notOk(matchesHostPattern('*.example.com', 'xexample.com'))
  t.ok(matchesHostPattern('127.0.0.1', '127.0.0.1'))
  t.notOk(matchesHostPattern('127.0.0.1', '127.0.0.10'))
  t.ok(matchesHostPattern('::1', '[::1]'))
  t.ok(matchesHostPattern('[::1]', '[::1]'))
  t.notOk(matchesHostPattern('*', 'anything'), 'no catch-all')
  t.same(parseHostList(' *.example.com ,,127.0.0.1 , '), ['*.example.com', '127.0.0.1'])
})

t.test("a portal's domain read as a URL host", async (t) => {
  t.equal(portalHost('Some.Bitrix24.com')?.host, 'some.bitrix24.com')
  t.equal(portalHost('127.0.0.1:8443')?.host, '127.0.0.1:8443')
  t.equal(portalHost('p.example:443')?.host, 'p.example')
  for (const bad of [null, undefined, '', 'p.example/x', 'u@p.example', 'p.example?x', 'p.example#x', 'a b', 'https://p.example']) t.equal(portalHost(bad), null, String(bad))
})

t.test('loopback, private and link-local addresses', async (t) => {
  for (const address of ['127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:192.168.1.1']) t.ok(isPrivateAddress(address), address)
  for (const address of ['8.8.8.8', '172.32.0.1', '203.0.113.5', '2001:db8::1', '::ffff:8.8.8.8']) t.notOk(isPrivateAddress(address), address)
  for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) t.ok(isLoopbackAddress(address), address)
  for (const address of ['10.0.0.1', '::2', '128.0.0.1']) t.notOk(isLoopbackAddress(address), address)
})

t.test('the system resolver: every address of a host (localhost needs no network)', async (t) => {
  const addresses = await systemLookup('localhost')
  t.ok(addresses.length > 0 && addresses.every(isLoopbackAddress), addresses.join(', '))
})
