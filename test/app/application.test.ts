import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createReceiver } from '../../src/receiver/receiver.ts'
import type { ReceiverOptions } from '../../src/receiver/receiver-options.ts'
import type { HandlerContext } from '../../src/router/handler-context.ts'
import { FakeOAuth, type FakeInstall } from '../fakes/fake-oauth.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { openPgStore } from '../store/postgres/postgres-fixture.ts'
import { eventually, SECRET_KEY, startTestApp } from '../helpers.ts'

/** A fake OAuth server and its portals, closed at the end of `t`. */
async function oauthServer(t: Test, options?: ConstructorParameters<typeof FakeOAuth>[0]) {
  const oauth = await new FakeOAuth(options).start()
  t.teardown(() => oauth.close())
  return oauth
}

/** A receiver in application mode for `oauth`, through app.inject; a MemoryStore unless options say otherwise. */
async function appReceiver(t: Test, oauth: FakeOAuth, options: Partial<ReceiverOptions> = {}) {
  const started = await startTestApp({
    tokens: [],
    // Quick retries of pending installs: the tests wait on conditions, never on the default pauses.
    app: { clientId: oauth.clientId, clientSecret: oauth.clientSecret, oauthUrl: oauth.url, oauthTimeoutMs: 1000, confirmRetryBaseMs: 50, confirmRetryMaxMs: 200 },
    secretKey: SECRET_KEY,
    rest: { timeoutMs: 2000 },
    ...options,
  })
  t.teardown(() => started.close())
  return started
}

/** Every secret a portal was given: none may show in a reply, a log line or the store's clear text. */
const secretsOf = (portal: FakeInstall, oauth: FakeOAuth) => [portal.accessToken, portal.refreshToken, portal.applicationToken, oauth.clientSecret]

function assertNoSecret(t: Test, text: string, secrets: string[], what: string) {
  for (const secret of secrets) t.notOk(text.includes(secret), `${what} holds no secret`)
}

t.test('a genuine install is confirmed with app.info, stored sealed, and that portal’s events pass with no manual token', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store, handled, logs, receiver } = await appReceiver(t, oauth)
  const portal = oauth.install({ version: 3 })
  const reply = await post(oauth.installBody(portal))
  t.equal(reply.status, 200)
  const row = await (store as MemoryStore).portals.get(portal.memberId)
  t.match(row, { memberId: portal.memberId, domain: portal.domain, clientEndpoint: portal.clientEndpoint, status: 'active', scope: 'imbot,im', version: '3' })
  t.ok(row?.expiresAt && Math.abs(row.expiresAt - portal.expires * 1000) < 1000, 'the expiry the install gave')
  assertNoSecret(t, JSON.stringify(row), secretsOf(portal, oauth), 'the stored row')
  t.equal(oauth.calls.filter((call) => call.endpoint === 'app.info').length, 1, 'one app.info call')

  t.equal((await post(oauth.eventBody(portal))).status, 200)
  await eventually(() => handled.length === 2)
  t.same(
    handled.map((event) => event.type),
    ['ONAPPINSTALL', 'ONIMBOTV2MESSAGEADD'],
    'the install reaches the handlers too',
  )
  t.same(await receiver.portal(portal.memberId).call('profile'), { ID: 1, ADMIN: true, NAME: 'John', LAST_NAME: 'Smith', PERSONAL_GENDER: 'M', TIME_ZONE: '', TIME_ZONE_OFFSET: 0 })
  assertNoSecret(t, logs.text(), secretsOf(portal, oauth), 'the log')
})

t.test('a forged install stores nothing, and its token is refused afterwards', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store, handled, logs } = await appReceiver(t, oauth)
  const genuine = oauth.install()
  const other = oauth.install({ clientId: 'app.someone-else.123' })
  const forgeries: Array<[string, FakeInstall, string]> = [
    ['an access token the OAuth server does not know', genuine, oauth.installBody(genuine, { auth: { access_token: 'f0rged0000000000000000000000000000' } })],
    ["another application's token", other, oauth.installBody(other)],
    ['a member_id that is not the token’s portal', genuine, oauth.installBody(genuine, { auth: { member_id: 'ffffffffffffffffffffffffffffffff' } })],
    ['a domain that is not the token’s portal', genuine, oauth.installBody(genuine, { auth: { domain: 'evil.example.com' } })],
    ['no access token at all', genuine, oauth.installBody(genuine, { auth: { access_token: null } })],
    ['no member_id', genuine, oauth.installBody(genuine, { auth: { member_id: null } })],
    ['no application token', genuine, oauth.installBody(genuine, { auth: { application_token: null } })],
  ]
  for (const [why, portal, body] of forgeries) {
    const reply = await post(body)
    t.equal(reply.status, 401, why)
    const text = await reply.text()
    assertNoSecret(t, text, secretsOf(portal, oauth), `the reply to ${why}`)
    t.same(await (store as MemoryStore).portals.list(), [], `${why}: nothing stored`)
    t.equal((await post(oauth.eventBody(portal))).status, 401, `${why}: its token is refused afterwards`)
  }
  t.equal((store as MemoryStore).rows.length, 0, 'no event stored')
  t.same(handled, [])
  assertNoSecret(t, logs.text(), [...secretsOf(genuine, oauth), ...secretsOf(other, oauth)], 'the log')
})

t.test('an event of an unknown portal gets 401; a static B24_APP_TOKENS entry is still accepted', async (t) => {
  const oauth = await oauthServer(t)
  const { post, handled } = await appReceiver(t, oauth, { tokens: ['static-token-1234'] })
  const portal = oauth.install()
  t.equal((await post(oauth.eventBody(portal))).status, 401)
  t.equal((await post(oauth.eventBody(portal, 'ONIMBOTV2MESSAGEADD', { auth: { application_token: 'static-token-1234' } }))).status, 200)
  await eventually(() => handled.length === 1)
})

t.test('50 concurrent handler calls after expiry cause exactly one refresh, and every call succeeds', async (t) => {
  const oauth = await oauthServer(t)
  const portal = oauth.install()
  const results: unknown[] = []
  // 100 requests (each call sent again once refreshed): a bucket with room for all, pacing is not the subject here.
  const { post, receiver, store } = await appReceiver(t, oauth, { rest: { timeoutMs: 2000, rate: { drainPerSecond: 100, threshold: 200 } } })
  receiver.on('ONIMV2MESSAGEADD', async (_event, ctx) => {
    const calls = Array.from({ length: 50 }, () => ctx.bitrix.call<{ ID: number }>('profile'))
    results.push(...(await Promise.all(calls)).map((profile) => profile.ID))
  })
  t.equal((await post(oauth.installBody(portal))).status, 200)
  oauth.expire(portal.memberId)
  oauth.delay(50)
  t.equal((await post(oauth.eventBody(portal, 'ONIMV2MESSAGEADD'))).status, 200)
  await eventually(() => results.length === 50, 10000)
  t.same(new Set(results), new Set([1]))
  t.equal(oauth.refreshes(portal.memberId), 1, 'one refresh')
  const generations = oauth.calls.filter((call) => call.endpoint === 'rest' && call.status === 200).map((call) => call.generation)
  t.same(new Set(generations), new Set([1]), 'every successful call used the refreshed pair')
  // The new pair was stored before it was used: a later call starts from it, no refresh.
  await receiver.portal(portal.memberId).call('profile')
  t.equal(oauth.refreshes(portal.memberId), 1)
  t.ok(((await (store as MemoryStore).portals.get(portal.memberId))?.expiresAt ?? 0) > Date.now() + 3000000, 'the new expiry is stored')
})

t.test('ctx.portal has the stored facts; ctx.bitrix calls as the application, or as the bot when the event brought its tokens', async (t) => {
  const oauth = await oauthServer(t)
  const portal = oauth.install({ version: 7 })
  const contexts: HandlerContext[] = []
  const { post, receiver } = await appReceiver(t, oauth)
  receiver.onAny(async (_event, ctx) => {
    await ctx.bitrix.call('im.v2.Chat.get', { dialogId: 'chat5' })
    contexts.push(ctx)
  })
  await post(oauth.installBody(portal))
  await post(oauth.eventBody(portal, 'ONIMV2MESSAGEADD'))
  await post(oauth.eventBody(portal, 'ONIMBOTV2MESSAGEADD'))
  await eventually(() => contexts.length === 3)
  t.match(contexts[1]?.portal, { memberId: portal.memberId, domain: portal.domain, clientEndpoint: portal.clientEndpoint, status: 'active', version: '7', scope: 'imbot,im' })
  t.notOk('tokens' in (contexts[1]?.portal ?? {}) || 'applicationToken' in (contexts[1]?.portal ?? {}), 'never a token in ctx.portal')
  const rest = oauth.calls.filter((call) => call.endpoint === 'rest')
  t.equal(rest.length, 3)
  t.same(
    rest.map((call) => call.generation),
    [0, 0, 'event'],
    'the install’s stored pair for the application, the bot’s own tokens for a bot event',
  )
})

t.test('a restart keeps the portals: the same portal’s events and calls work after it (SQLite)', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'b24-app-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const oauth = await oauthServer(t)
  const portal = oauth.install()
  const first = await appReceiver(t, oauth, { dataDir, store: undefined })
  t.equal((await first.post(oauth.installBody(portal))).status, 200)
  await first.close()
  const second = await appReceiver(t, oauth, { dataDir, store: undefined })
  t.equal((await second.post(oauth.eventBody(portal))).status, 200)
  await eventually(() => second.handled.length >= 1)
  t.same(await second.receiver.portal(portal.memberId).call('profile'), { ID: 1, ADMIN: true, NAME: 'John', LAST_NAME: 'Smith', PERSONAL_GENDER: 'M', TIME_ZONE: '', TIME_ZONE_OFFSET: 0 })
})

t.test('uninstall deletes the tokens; CLEAN=1 deletes everything stored for the portal; reinstalling works', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store, receiver, handled } = await appReceiver(t, oauth)
  const memory = store as MemoryStore
  const portal = oauth.install()
  await post(oauth.installBody(portal))
  t.equal((await post(oauth.uninstallBody(portal, {}, { auth: { application_token: 'not-its-token' } }))).status, 401, 'an uninstall needs the stored token')
  t.equal((await post(oauth.uninstallBody(portal))).status, 200)
  t.match(await memory.portals.get(portal.memberId), { status: 'uninstalled', tokens: null, applicationToken: null, expiresAt: null })
  t.equal((await post(oauth.eventBody(portal))).status, 401, 'its token is no longer accepted')
  await t.rejects(receiver.portal(portal.memberId).call('profile'), { name: 'BitrixError', code: 'APP_NOT_INSTALLED' })

  const again = oauth.install({ memberId: portal.memberId, domain: portal.domain })
  t.equal((await post(oauth.installBody(again))).status, 200, 'reinstalled')
  t.match(await memory.portals.get(portal.memberId), { status: 'active' })
  t.equal((await post(oauth.eventBody(again))).status, 200)
  await eventually(() => handled.filter((event) => event.type === 'ONIMBOTV2MESSAGEADD').length === 1)

  // A dead letter of the portal, and an event still waiting: CLEAN=1 takes both.
  memory.rows.push({ ...memory.rows[0]!, id: 1000, status: 'dead', error: 'kept failing', portal: { domain: again.domain, memberId: again.memberId, clientEndpoint: null } })
  t.equal((await post(oauth.uninstallBody(again, { clean: true }))).status, 200)
  t.equal(await memory.portals.get(portal.memberId), null)
  t.same(await store!.deadLetters.list(), [], 'its dead letters are gone')
  await eventually(() => handled.some((event) => event.type === 'ONAPPUNINSTALL'))
})

t.test('ONAPPUPDATE: the stored token updates the version; a new token is confirmed with app.info first', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store } = await appReceiver(t, oauth)
  const memory = store as MemoryStore
  const portal = oauth.install({ version: 1 })
  await post(oauth.installBody(portal))
  t.equal((await post(oauth.updateBody(portal, { version: 2, withTokens: false }))).status, 200)
  t.match(await memory.portals.get(portal.memberId), { version: '2' })
  const before = (await memory.portals.get(portal.memberId))?.applicationToken
  t.equal((await post(oauth.updateBody(portal, { version: 3, applicationToken: 'a-new-application-token-0000000', withTokens: false }))).status, 401, 'a new token without an access token cannot be confirmed')
  t.equal((await memory.portals.get(portal.memberId))?.applicationToken, before)
  t.equal((await post(oauth.updateBody(portal, { version: 4, applicationToken: 'another-new-application-token-00' }))).status, 200)
  t.match(await memory.portals.get(portal.memberId), { version: '4' })
  t.not((await memory.portals.get(portal.memberId))?.applicationToken, before)
  t.equal((await post(oauth.eventBody(portal))).status, 200, 'the new token is accepted')
  t.equal((await post(oauth.eventBody(portal, 'ONIMBOTV2MESSAGEADD', { auth: { application_token: portal.applicationToken } }))).status, 401, 'the old one no longer')
  t.equal((await post(oauth.updateBody({ memberId: oauth.install().memberId }))).status, 401, 'an update of a portal never installed here')
})

t.test('an install the OAuth server cannot confirm now is kept pending: its events wait, then are handled once it is confirmed', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store, handled, logs } = await appReceiver(t, oauth)
  const portal = oauth.install()
  oauth.fail('503')
  t.equal((await post(oauth.installBody(portal))).status, 200)
  const memory = store as MemoryStore
  t.equal(await memory.portals.get(portal.memberId), null, 'no portal yet')
  t.match([...memory.candidateRows.values()], [{ memberId: portal.memberId, domain: portal.domain }], 'a pending install')
  t.equal((await post(oauth.eventBody(portal))).status, 200, 'its events are stored')
  t.equal(memory.candidateEvents.length, 2, 'under it, apart from the inbox')
  await eventually(() => logs.text().includes('kept pending'))
  await eventually(() => oauth.calls.filter((call) => call.endpoint === 'app.info').length >= 2, 10000)
  t.same(handled, [], 'not handled, and tried again while the OAuth server still fails')
  oauth.fail('none')
  await eventually(async () => (await memory.portals.get(portal.memberId))?.status === 'active', 10000)
  await eventually(() => handled.length === 2, 10000)
  t.same(
    handled.map((event) => event.type),
    ['ONAPPINSTALL', 'ONIMBOTV2MESSAGEADD'],
  )
})

t.test('a pending install the OAuth server then refuses is forgotten, with its events', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store, handled, logs } = await appReceiver(t, oauth)
  const portal = oauth.install()
  oauth.fail('hang')
  const forged = oauth.installBody(portal, { auth: { access_token: 'f0rged0000000000000000000000000000' } })
  t.equal((await post(forged)).status, 200, 'no answer within the timeout: kept pending')
  t.equal((await post(oauth.eventBody(portal))).status, 200)
  t.equal((store as MemoryStore).candidateEvents.length, 2)
  oauth.fail('none')
  await eventually(() => (store as MemoryStore).candidateRows.size === 0, 10000)
  t.equal((store as MemoryStore).candidateEvents.length, 0, 'its events went with it')
  t.same((store as MemoryStore).rows, [], 'none ever reached the inbox')
  t.equal(await (store as MemoryStore).portals.get(portal.memberId), null)
  t.same(handled, [], 'nothing handled')
  t.match(logs.text(), /refused a pending install/)
  t.equal((await post(oauth.eventBody(portal))).status, 401)
})

t.test('a reinstall of an installed portal that cannot be confirmed keeps the install it has, and waits beside it', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store } = await appReceiver(t, oauth)
  const memory = store as MemoryStore
  const portal = oauth.install()
  await post(oauth.installBody(portal))
  const row = await memory.portals.get(portal.memberId)
  oauth.fail('hang')
  const again = oauth.install({ memberId: portal.memberId, domain: portal.domain })
  t.equal((await post(oauth.installBody(again))).status, 200)
  t.same(await memory.portals.get(portal.memberId), row, 'the install it has, untouched')
  t.equal(memory.candidateRows.size, 1, 'the reinstall waits as a candidate')
  // A portal whose refresh token died keeps its row the same way until a reinstall is confirmed.
  await memory.portals.update(portal.memberId, { status: 'reinstall' })
  t.equal((await post(oauth.installBody(oauth.install({ memberId: portal.memberId, domain: portal.domain })))).status, 200)
  t.match(await memory.portals.get(portal.memberId), { status: 'reinstall' })
  t.equal(memory.candidateRows.size, 2)
  oauth.fail('none')
})

t.test('invalid_grant marks the portal for reinstall: one log line, /health lists it, its calls fail with that code', async (t) => {
  const oauth = await oauthServer(t)
  const { post, receiver, inject, logs } = await appReceiver(t, oauth)
  const portal = oauth.install()
  await post(oauth.installBody(portal))
  oauth.revoke(portal.memberId)
  oauth.expire(portal.memberId)
  await t.rejects(receiver.portal(portal.memberId).call('profile'), { name: 'BitrixError', code: 'invalid_grant' })
  await t.rejects(receiver.portal(portal.memberId).call('profile'), { name: 'BitrixError', code: 'invalid_grant' })
  t.equal(logs.lines.filter((line) => line.includes("refused this portal's refresh token")).length, 1, 'one log line')
  const health = await (await inject({ method: 'GET', url: '/health' })).json()
  t.same(health.app.needReinstall, [{ memberId: portal.memberId, domain: portal.domain }])
  t.match(health.app.portals, { reinstall: 1, active: 0 })
  t.equal((await inject({ method: 'GET', url: '/ready' })).status, 200, 'one portal to reinstall is no reason to stop')
  t.equal(oauth.refreshes(portal.memberId), 0)
})

t.test('invalid_client: our own client id or secret is wrong: one fatal line, /ready 503, every call fails with it', async (t) => {
  const oauth = await oauthServer(t)
  const { post, receiver, inject, logs } = await appReceiver(t, oauth, { app: { clientId: oauth.clientId, clientSecret: 'a-wrong-secret', oauthUrl: oauth.url } })
  const portal = oauth.install()
  t.equal((await post(oauth.installBody(portal))).status, 200, 'app.info needs no secret: the install is confirmed')
  oauth.expire(portal.memberId)
  await t.rejects(receiver.portal(portal.memberId).call('profile'), { code: 'invalid_client' })
  await t.rejects(receiver.portal(portal.memberId).call('profile'), { code: 'invalid_client' })
  t.equal(logs.lines.filter((line) => line.includes('refuses B24_CLIENT_ID')).length, 1)
  const ready = await inject({ method: 'GET', url: '/ready' })
  t.equal(ready.status, 503)
  t.match(await ready.json(), { reason: /invalid_client/ })
  t.match((await (await inject({ method: 'GET', url: '/health' })).json()).app, { error: /invalid_client/ })
  t.notOk(logs.text().includes('a-wrong-secret'))
})

t.test('the options of application mode are checked when the receiver is made', async (t) => {
  const oauth = await oauthServer(t)
  await t.rejects(startTestApp({ tokens: [] }), { name: 'ConfigError', message: /app option/ })
  await t.rejects(startTestApp({ tokens: [], app: { clientId: '', clientSecret: 'x' } }), { name: 'ConfigError', message: /clientId and clientSecret/ })
  await t.rejects(startTestApp({ tokens: [], app: { clientId: 'a', clientSecret: 'x', oauthUrl: 'http://oauth.example.com' } }), { name: 'ConfigError', message: /https/ })
  const store = new MemoryStore()
  const { portals: _, ...withoutPortals } = store
  await t.rejects(startTestApp({ tokens: [], app: { clientId: 'a', clientSecret: 'x', oauthUrl: oauth.url }, store: Object.assign(Object.create(MemoryStore.prototype), withoutPortals) }), {
    name: 'ConfigError',
    message: /no `portals`/,
  })
  const { receiver } = await appReceiver(t, oauth)
  const plain = await startTestApp()
  t.teardown(() => plain.close())
  t.throws(() => plain.receiver.portal('x'), { name: 'ConfigError' })
  t.ok(receiver.portal('x'))
})

t.test('a payload’s server_endpoint is never called: the install, the refresh and the client secret go to B24_OAUTH_URL only', async (t) => {
  const oauth = await oauthServer(t)
  const elsewhere = await oauthServer(t, { clientId: oauth.clientId })
  const { post, receiver } = await appReceiver(t, oauth)
  const portal = oauth.install()
  t.equal((await post(oauth.installBody(portal, { auth: { server_endpoint: `${elsewhere.url}/rest/` } }))).status, 200)
  oauth.expire(portal.memberId)
  await receiver.portal(portal.memberId).call('profile')
  t.equal(oauth.refreshes(portal.memberId), 1)
  t.same(elsewhere.calls, [], 'nothing reached the payload’s server')
})

t.test('two replicas on PostgreSQL: an install through one is known to the other, and a burst on both after expiry refreshes once', async (t) => {
  const oauth = await oauthServer(t)
  const first = await openPgStore(t)
  const second = await openPgStore(t, { connectionString: first.connectionString })
  // 100 requests between them (each call sent again once refreshed): a bucket with room for all.
  const rest = { timeoutMs: 2000, rate: { drainPerSecond: 100, threshold: 200 } }
  const one = await appReceiver(t, oauth, { store: first, rest })
  const two = await appReceiver(t, oauth, { store: second, rest })
  const portal = oauth.install()
  t.equal((await one.post(oauth.installBody(portal))).status, 200)
  t.equal((await two.post(oauth.eventBody(portal))).status, 200, 'the other replica accepts its events')
  oauth.expire(portal.memberId)
  oauth.delay(100)
  const calls = [one, two].flatMap(({ receiver }) => Array.from({ length: 25 }, () => receiver.portal(portal.memberId).call<{ ID: number }>('profile')))
  t.same(new Set((await Promise.all(calls)).map((profile) => profile.ID)), new Set([1]), 'every call succeeds')
  t.equal(oauth.refreshes(portal.memberId), 1, 'one refresh between them')
})

t.test('an update with a new token the OAuth server cannot confirm now answers 503 and changes nothing', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store } = await appReceiver(t, oauth)
  const portal = oauth.install()
  await post(oauth.installBody(portal))
  const row = await (store as MemoryStore).portals.get(portal.memberId)
  oauth.fail('503')
  const reply = await post(oauth.updateBody(portal, { applicationToken: 'a-new-application-token-0000000' }))
  t.equal(reply.status, 503)
  t.match(await reply.json(), { error: 'INSTALL_NOT_CONFIRMED_YET' })
  t.same(await (store as MemoryStore).portals.get(portal.memberId), row)
})

t.test('a pending install settled elsewhere (confirmed or refused by another replica) is not asked about again', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store, logs } = await appReceiver(t, oauth)
  const memory = store as MemoryStore
  const confirmed = oauth.install()
  const refused = oauth.install()
  oauth.fail('503')
  await post(oauth.installBody(confirmed))
  await post(oauth.installBody(refused))
  const [first, second] = [...memory.candidateRows.keys()] as [number, number]
  await memory.candidates.confirm(first, null)
  await memory.candidates.drop(second)
  const before = oauth.calls.length
  oauth.fail('none')
  await eventually(() => logs.lines.filter((line) => line.includes('settled elsewhere')).length === 2, 10000)
  t.equal(oauth.calls.length, before, 'no app.info call for either')
  t.notMatch(logs.text(), /pending install is confirmed|refused a pending install/)
})

t.test('an install without `expires` expires `expires_in` seconds from now, or in an hour when it says neither', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store } = await appReceiver(t, oauth)
  const inTen = oauth.install()
  const unsaid = oauth.install()
  const before = Date.now()
  await post(oauth.installBody(inTen, { auth: { expires: null, expires_in: '600.0005' } }))
  await post(oauth.installBody(unsaid, { auth: { expires: null, expires_in: null } }))
  const near = (value: number | null | undefined, expected: number) => value !== null && value !== undefined && value >= expected && value <= expected + (Date.now() - before)
  const fractional = await (store as MemoryStore).portals.get(inTen.memberId)
  t.ok(near(fractional?.expiresAt, before + 600000), 'fractional seconds are kept in whole milliseconds')
  t.ok(Number.isInteger(fractional?.expiresAt))
  t.ok(near((await (store as MemoryStore).portals.get(unsaid.memberId))?.expiresAt, before + 3600000))
})

t.test('receiver.portal() of a receiver not started yet rejects its calls', async (t) => {
  const oauth = await oauthServer(t)
  const receiver = createReceiver({ tokens: [], app: { clientId: oauth.clientId, clientSecret: oauth.clientSecret, oauthUrl: oauth.url }, store: new MemoryStore(), secretKey: SECRET_KEY })
  await t.rejects(receiver.portal('m').call('profile'), { name: 'BitrixError', code: 'NOT_STARTED' })
})

t.test('lifecycle bodies with fields left out, and JSON ones, are read as far as they go', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store, handled } = await appReceiver(t, oauth, { tokens: ['static-token-1234'] })
  const memory = store as MemoryStore
  const bare = oauth.install()
  t.equal((await post(oauth.installBody(bare, { auth: { refresh_token: null, scope: null }, data: { VERSION: null } }))).status, 200)
  t.match(await memory.portals.get(bare.memberId), { status: 'active', scope: 'imbot,im', version: null }, 'the scope app.info confirms')
  oauth.fail('503')
  const pending = oauth.install()
  t.equal((await post(oauth.installBody(pending, { auth: { client_endpoint: null, scope: null, refresh_token: null } }))).status, 200)
  t.match([...memory.candidateRows.values()], [{ memberId: pending.memberId, clientEndpoint: '', scope: null }])
  oauth.fail('none')
  // Asked again, the OAuth server answers: it is asked freely again.
  await eventually(() => memory.candidateRows.size === 0, 10000)

  const json = (payload: unknown) => post(JSON.stringify(payload), 'application/json')
  const auth = { member_id: bare.memberId, domain: bare.domain, application_token: bare.applicationToken }
  t.equal((await json({ event: 'ONAPPUPDATE', data: { VERSION: 5 }, auth })).status, 200)
  t.match(await memory.portals.get(bare.memberId), { version: '5' }, 'a JSON number')
  t.equal((await json({ event: 'ONAPPUPDATE', data: 'not an object', auth })).status, 200)
  t.match(await memory.portals.get(bare.memberId), { version: null })
  t.equal((await json({ event: 'ONAPPUNINSTALL', data: {} })).status, 401, 'no auth at all')
  t.match(await (await json({ event: 'ONAPPUNINSTALL', data: {}, auth: { application_token: bare.applicationToken } })).json(), { error: 'INVALID_TOKEN' }, 'no member_id')
  t.equal((await post(oauth.updateBody(bare, { applicationToken: 'a-new-application-token-0000000' }, { auth: { access_token: 'f0rged0000000000000000000000000000' } }))).status, 401, 'a new token the OAuth server does not vouch for')
  t.equal((await post(oauth.eventBody(bare, 'ONIMBOTV2MESSAGEADD', { auth: { member_id: null } }))).status, 401, 'an event without member_id')
  const memberless = oauth.eventBody(bare, 'ONIMV2MESSAGEADD', { auth: { member_id: null, application_token: 'static-token-1234' } })
  t.equal((await post(memberless)).status, 200, 'a static token needs no portal')
  t.equal((await json({ event: 'ONAPPUNINSTALL', data: {}, auth })).status, 200, 'the refused update changed nothing: the stored token still uninstalls it (CLEAN unsaid)')
  await eventually(() => handled.some((event) => event.type === 'ONIMV2MESSAGEADD'))
})

t.test('a restart takes up the installs an earlier run left pending', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'b24-app-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const oauth = await oauthServer(t)
  const portal = oauth.install()
  oauth.fail('503')
  const first = await appReceiver(t, oauth, { dataDir, store: undefined })
  t.equal((await first.post(oauth.installBody(portal))).status, 200)
  await first.close()
  oauth.fail('none')
  const second = await appReceiver(t, oauth, { dataDir, store: undefined })
  await eventually(() => second.handled.some((event) => event.type === 'ONAPPINSTALL'), 10000)
  t.equal((await second.post(oauth.eventBody(portal))).status, 200)
})
