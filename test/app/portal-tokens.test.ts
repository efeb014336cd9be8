import t, { type Test } from 'tap'
import { pino } from 'pino'
import { OAuthServer } from '../../src/app/oauth-server.ts'
import { PortalTokens } from '../../src/app/portal-tokens.ts'
import { openTokens, sealTokens } from '../../src/app/token-pair.ts'
import { BitrixError } from '../../src/bitrix/bitrix-error.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import type { Store } from '../../src/store/store.ts'
import { FakeOAuth, type FakeInstall } from '../fakes/fake-oauth.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { newCandidate } from '../store/candidates-contract.ts'
import { newRecord, openPgStore } from '../store/postgres/postgres-fixture.ts'
import { captureLogs } from '../helpers.ts'

const sealer = createSealer(Buffer.alloc(32, 9))

async function fakeOAuth(t: Test) {
  const oauth = await new FakeOAuth().start()
  t.teardown(() => oauth.close())
  return oauth
}

/** Stores `portal` as an install would, in `store`. */
async function stored(store: Store, portal: FakeInstall) {
  const now = Date.now()
  await store.portals!.put({
    memberId: portal.memberId,
    domain: portal.domain,
    clientEndpoint: portal.clientEndpoint,
    status: 'active',
    scope: portal.scope,
    version: String(portal.version),
    applicationToken: sealer.digest(portal.applicationToken),
    tokens: sealTokens(portal, sealer),
    expiresAt: portal.expires * 1000,
    installedAt: now,
    updatedAt: now,
  })
}

/** A replica's tokens over `store`, with its own OAuth client. */
function replica(store: Store, oauth: FakeOAuth, owner: string, onClientRefused = (_code: string) => undefined, lockTtlMs?: number) {
  const client = new OAuthServer({ url: oauth.url, clientId: oauth.clientId, clientSecret: oauth.clientSecret, timeoutMs: 5000 })
  return new PortalTokens({ portals: store.portals!, candidates: store.candidates!, leases: store.leases, sealer, oauth: client, logger: pino({ level: 'silent' }), owner, onClientRefused, lockTtlMs })
}

t.test('callers of one portal in one process share one refresh; a caller with a stale token after it gets the stored one', async (t) => {
  const oauth = await fakeOAuth(t)
  const store = new MemoryStore()
  const portal = oauth.install()
  await stored(store, portal)
  const tokens = replica(store, oauth, 'one')
  oauth.delay(30)
  const fresh = await Promise.all(Array.from({ length: 20 }, () => tokens.refresh(portal.memberId, portal.accessToken, 'profile')))
  t.equal(new Set(fresh).size, 1)
  t.not(fresh[0], portal.accessToken)
  t.equal(oauth.refreshes(portal.memberId), 1)
  t.equal(await tokens.refresh(portal.memberId, portal.accessToken, 'profile'), fresh[0], 'a late caller with the old token: no second refresh')
  t.equal(oauth.refreshes(portal.memberId), 1)
  t.equal(openTokens((await store.portals.get(portal.memberId))!.tokens!, sealer).accessToken, fresh[0], 'stored before it was handed out')
})

t.test('two replicas on PostgreSQL refresh once between them', async (t) => {
  const oauth = await fakeOAuth(t)
  const first = await openPgStore(t)
  const second = await openPgStore(t, { connectionString: first.connectionString })
  const portal = oauth.install()
  await stored(first, portal)
  const a = replica(first, oauth, 'replica-a')
  const b = replica(second, oauth, 'replica-b')
  oauth.delay(200)
  const fresh = await Promise.all([
    ...Array.from({ length: 10 }, () => a.refresh(portal.memberId, portal.accessToken, 'profile')),
    ...Array.from({ length: 10 }, () => b.refresh(portal.memberId, portal.accessToken, 'profile')),
  ])
  t.equal(oauth.refreshes(portal.memberId), 1, 'one refresh for both replicas')
  t.equal(new Set(fresh).size, 1, 'both got the pair the refresh stored')
  t.equal(openTokens((await second.portals!.get(portal.memberId))!.tokens!, sealer).accessToken, fresh[0])
})

t.test('a replica waits for another that holds the refresh lock, and gives up if it never finishes', async (t) => {
  const oauth = await fakeOAuth(t)
  const store = new MemoryStore()
  const portal = oauth.install()
  await stored(store, portal)
  t.ok(await store.leases.lease(`oauth-refresh:${portal.memberId}`, 'a replica that died mid-refresh', 60000))
  const tokens = replica(store, oauth, 'waiting', undefined, 300)
  await t.rejects(tokens.refresh(portal.memberId, portal.accessToken, 'profile'), { name: 'BitrixError', code: 'TIMEOUT' })
  t.equal(oauth.refreshes(portal.memberId), 0)
})

t.test('what cannot be called says why, with a BitrixError code', async (t) => {
  const oauth = await fakeOAuth(t)
  const store = new MemoryStore()
  const tokens = replica(store, oauth, 'one')
  await t.rejects(tokens.callable('nobody', 'profile'), { code: 'APP_NOT_INSTALLED' })
  const pending = oauth.install()
  await store.candidates.add(newCandidate(pending.memberId), newRecord(1, 'install'), { perPortal: 3, total: 10 })
  await t.rejects(tokens.callable(pending.memberId, 'profile'), { code: 'APP_INSTALL_PENDING', transient: true }, 'only an install not confirmed yet')
  await stored(store, pending)
  t.ok(await tokens.callable(pending.memberId, 'profile'), 'one confirmed beside it is called')
  await store.portals.update(pending.memberId, { status: 'reinstall' })
  await t.rejects(tokens.callable(pending.memberId, 'profile'), { code: 'invalid_grant', fatal: true })
})

t.test('an OAuth failure that is not a refusal leaves the portal as it was; client refusals are told once', async (t) => {
  const oauth = await fakeOAuth(t)
  const store = new MemoryStore()
  const portal = oauth.install()
  await stored(store, portal)
  const refused: string[] = []
  const tokens = replica(store, oauth, 'one', (code) => void refused.push(code))
  oauth.fail('503')
  await t.rejects(tokens.refresh(portal.memberId, portal.accessToken, 'profile'), { name: 'BitrixError', method: 'profile', code: 'HTTP_503' })
  t.match(await store.portals.get(portal.memberId), { status: 'active' })
  oauth.fail('none')
  const wrong = new PortalTokens({
    portals: store.portals,
    candidates: store.candidates,
    leases: store.leases,
    sealer,
    oauth: new OAuthServer({ url: oauth.url, clientId: oauth.clientId, clientSecret: 'wrong', timeoutMs: 5000 }),
    logger: pino(captureLogs().stream),
    owner: 'two',
    onClientRefused: (code) => void refused.push(code),
  })
  await t.rejects(wrong.refresh(portal.memberId, portal.accessToken, 'profile'), { code: 'invalid_client' })
  await t.rejects(wrong.callable(portal.memberId, 'profile'), { code: 'invalid_client' })
  t.same(refused, ['invalid_client'])
  const thrown = { refresh: async () => Promise.reject(new Error('not a BitrixError')) }
  const odd = new PortalTokens({ portals: store.portals, candidates: store.candidates, leases: store.leases, sealer, oauth: thrown, logger: pino({ level: 'silent' }), owner: 'three', onClientRefused: () => undefined })
  await t.rejects(odd.refresh(portal.memberId, portal.accessToken, 'profile'), { message: 'not a BitrixError' })
  t.ok(new BitrixError('x', 'y', null, '') instanceof Error)
})

t.test('a pair another replica stores between the first look and the lock is taken as it is, no refresh', async (t) => {
  const oauth = await fakeOAuth(t)
  const store = new MemoryStore()
  const portal = oauth.install()
  await stored(store, portal)
  const leases = {
    ...store.leases,
    lease: async (name: string, owner: string, ttlMs: number) => {
      await store.portals.update(portal.memberId, { tokens: sealTokens({ accessToken: 'stored-by-another', refreshToken: 'r' }, sealer) })
      return store.leases.lease(name, owner, ttlMs)
    },
  }
  const tokens = new PortalTokens({ portals: store.portals, candidates: store.candidates, leases, sealer, oauth: { refresh: async () => t.fail('no refresh') as never }, logger: pino({ level: 'silent' }), owner: 'one', onClientRefused: () => undefined })
  t.equal(await tokens.refresh(portal.memberId, portal.accessToken, 'profile'), 'stored-by-another')
  t.ok(await store.leases.lease(`oauth-refresh:${portal.memberId}`, 'another', 1000), 'the lock is given back')
})

t.test('a refresh that names no scope keeps the stored one', async (t) => {
  const oauth = await fakeOAuth(t)
  const store = new MemoryStore()
  const portal = oauth.install()
  await stored(store, portal)
  const grant = { accessToken: 'a2', refreshToken: 'r2', expiresAt: Date.now() + 3600000, scope: null, memberId: null, clientEndpoint: null }
  const tokens = new PortalTokens({ portals: store.portals, candidates: store.candidates, leases: store.leases, sealer, oauth: { refresh: async () => grant }, logger: pino({ level: 'silent' }), owner: 'one', onClientRefused: () => undefined })
  t.equal(await tokens.refresh(portal.memberId, portal.accessToken, 'profile'), 'a2')
  t.match(await store.portals.get(portal.memberId), { scope: portal.scope, expiresAt: grant.expiresAt })
})
