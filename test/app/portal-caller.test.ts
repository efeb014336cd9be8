import t, { type Test } from 'tap'
import { pino } from 'pino'
import { OAuthServer } from '../../src/app/oauth-server.ts'
import { portalCaller } from '../../src/app/portal-caller.ts'
import { Pacer } from '../../src/bitrix/pacer.ts'
import { PortalTokens } from '../../src/app/portal-tokens.ts'
import { sealTokens } from '../../src/app/token-pair.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import { FakeOAuth } from '../fakes/fake-oauth.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

const sealer = createSealer(Buffer.alloc(32, 5))

/** A portal installed on a fake OAuth server and stored as `row` says, and a caller of it. */
async function setup(t: Test, row: { clientEndpoint?: (endpoint: string) => string; expiresAt?: (expires: number) => number | null; pacer?: Pacer } = {}) {
  const oauth = await new FakeOAuth().start()
  t.teardown(() => oauth.close())
  const store = new MemoryStore()
  const portal = oauth.install()
  const now = Date.now()
  await store.portals.put({
    memberId: portal.memberId,
    domain: portal.domain,
    clientEndpoint: (row.clientEndpoint ?? ((endpoint) => endpoint))(portal.clientEndpoint),
    status: 'active',
    scope: portal.scope,
    version: '1',
    applicationToken: sealer.digest(portal.applicationToken),
    tokens: sealTokens(portal, sealer),
    expiresAt: (row.expiresAt ?? ((expires) => expires * 1000))(portal.expires),
    installedAt: now,
    updatedAt: now,
  })
  const client = new OAuthServer({ url: oauth.url, clientId: oauth.clientId, clientSecret: oauth.clientSecret, timeoutMs: 5000 })
  const tokens = new PortalTokens({ portals: store.portals, candidates: store.candidates, leases: store.leases, sealer, oauth: client, logger: pino({ level: 'silent' }), owner: 'test', onClientRefused: () => undefined })
  return { oauth, portal, bitrix: portalCaller(tokens, portal.memberId, { timeoutMs: 5000, pacer: row.pacer }) }
}

t.test('calls the stored endpoint with the stored token, whether or not the endpoint ends with a slash', async (t) => {
  for (const clientEndpoint of [(endpoint: string) => endpoint, (endpoint: string) => endpoint.replace(/\/$/, '')]) {
    const { oauth, bitrix } = await setup(t, { clientEndpoint })
    t.same(await bitrix.call('im.v2.Chat.get', { dialogId: 'chat5' }), { method: 'im.v2.Chat.get', params: { dialogId: 'chat5' } })
    t.same(
      oauth.calls.map((call) => [call.method, call.generation]),
      [['im.v2.Chat.get', 0]],
    )
  }
})

t.test('a token within a minute of its expiry is refreshed before the call; one of unknown expiry only when refused', async (t) => {
  const soon = await setup(t, { expiresAt: () => Date.now() + 30000 })
  await soon.bitrix.call('profile')
  t.equal(soon.oauth.refreshes(soon.portal.memberId), 1)
  t.same(
    soon.oauth.calls.filter((call) => call.endpoint === 'rest').map((call) => call.generation),
    [1],
    'the call used the new pair',
  )
  const unknown = await setup(t, { expiresAt: () => null })
  await unknown.bitrix.call('profile')
  t.equal(unknown.oauth.refreshes(unknown.portal.memberId), 0)
  unknown.oauth.expire(unknown.portal.memberId)
  await unknown.bitrix.call('profile')
  t.equal(unknown.oauth.refreshes(unknown.portal.memberId), 1)
})

t.test('other failures are the caller’s, not retried', async (t) => {
  const { oauth, bitrix } = await setup(t)
  await t.rejects(bitrix.call('not a method'), { name: 'BitrixError', code: 'INVALID_METHOD' })
  await oauth.close()
  await t.rejects(bitrix.call('profile'), { name: 'BitrixError', code: 'NETWORK_ERROR' })
  t.equal(oauth.refreshes(oauth.calls[0]?.memberId ?? ''), 0)
})

t.test('paced: each call takes its slot of the portal’s bucket through `wait`; the signal ends it; an expired token is refreshed and the call made once more', async (t) => {
  const called: string[] = []
  const pacer = new Pacer({ observe: { called: (method, outcome) => void called.push(`${method} ${outcome}`), limited: () => undefined, waited: () => undefined } })
  const { oauth, portal, bitrix } = await setup(t, { expiresAt: () => null, pacer })
  let waits = 0
  const wait = <T>(waiting: Promise<T>) => {
    waits++
    return waiting
  }
  t.same(await bitrix.call('im.v2.Chat.get', { dialogId: 'chat5' }, { wait }), { method: 'im.v2.Chat.get', params: { dialogId: 'chat5' } })
  t.equal(waits, 1)
  const abort = new AbortController()
  abort.abort(new Error('attempt abandoned'))
  await t.rejects(bitrix.call('im.v2.Chat.get', {}, { signal: abort.signal }), { message: 'attempt abandoned' })
  oauth.expire(portal.memberId)
  t.same(await bitrix.call('im.v2.Chat.get', {}, { wait }), { method: 'im.v2.Chat.get', params: {} })
  t.equal(waits, 3, 'the call made again after the refresh is paced too')
  t.same(called, ['im.v2.Chat.get ok', 'im.v2.Chat.get fatal', 'im.v2.Chat.get ok'])
})
