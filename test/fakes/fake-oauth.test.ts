import t, { type Test } from 'tap'
import { parseForm } from '../../src/wire/parse-form.ts'
import { eventually } from '../helpers.ts'
import { FakeOAuth } from './fake-oauth.ts'

// The fake OAuth server the application mode is tested against must itself follow the docs.

async function start(t: Test, options?: ConstructorParameters<typeof FakeOAuth>[0]) {
  const fake = await new FakeOAuth(options).start()
  t.teardown(() => fake.close())
  const get = async (path: string, query: Record<string, string> = {}) => {
    const response = await fetch(`${fake.url}${path}?${new URLSearchParams(query)}`)
    return { status: response.status, body: (await response.json()) as any }
  }
  const refresh = (refreshToken: string, client = { client_id: fake.clientId, client_secret: fake.clientSecret }) =>
    get('/oauth/token/', { grant_type: 'refresh_token', ...client, refresh_token: refreshToken })
  const rest = async (endpoint: string, method: string, params: Record<string, unknown>) => {
    const response = await fetch(`${endpoint}${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) })
    return { status: response.status, body: (await response.json()) as any }
  }
  return { fake, get, refresh, rest }
}

t.test('install issues a pair, an application token and a client endpoint on this server', async (t) => {
  const { fake } = await start(t, { clientId: 'local.app.1', clientSecret: 's3cret' })
  t.equal(fake.clientId, 'local.app.1')
  t.equal(fake.clientSecret, 's3cret')
  t.match(fake.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  const portal = fake.install({ memberId: 'm1', domain: 'one.bitrix24.com', scope: 'imbot', version: 3 })
  t.match(portal, { memberId: 'm1', domain: 'one.bitrix24.com', clientEndpoint: `${fake.url}/portal/m1/rest/`, accessToken: /^[0-9a-f]{32}$/, refreshToken: /^[0-9a-f]{32}$/, applicationToken: /^[0-9a-f]{32}$/, expiresIn: 3600, scope: 'imbot', version: 3, clientId: 'local.app.1' })
  t.ok(Math.abs(portal.expires - (Date.now() / 1000 + 3600)) < 5, 'auth[expires]: unix seconds, an hour ahead')
  t.match(fake.portal('m1'), { generation: 0, refreshes: 0, installed: true, accessToken: portal.accessToken, refreshToken: portal.refreshToken })
  t.equal(fake.portal('nobody'), undefined)
  t.equal(fake.refreshes('nobody'), 0)
  const other = fake.install()
  t.match(other, { memberId: /^[0-9a-f]{32}$/, domain: 'portal-2.bitrix24.com', scope: 'imbot,im', version: 1 })
  t.throws(() => new FakeOAuth().url, /start/)
})

t.test('installBody is the ONAPPINSTALL form Bitrix24 posts', async (t) => {
  const { fake } = await start(t)
  const portal = fake.install({ version: 2 })
  const body = fake.installBody(portal)
  t.match(body, /^event=ONAPPINSTALL&data%5BVERSION%5D=2&/)
  t.same(parseForm(body), {
    event: 'ONAPPINSTALL',
    data: { VERSION: '2', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
    ts: parseForm(body).ts,
    auth: {
      access_token: portal.accessToken,
      expires: String(portal.expires),
      expires_in: '3600',
      scope: 'imbot,im',
      domain: portal.domain,
      server_endpoint: `${fake.url}/rest/`,
      status: 'L',
      client_endpoint: portal.clientEndpoint,
      member_id: portal.memberId,
      user_id: '1',
      refresh_token: portal.refreshToken,
      application_token: portal.applicationToken,
    },
  })
  const changed = parseForm(fake.installBody(portal, { auth: { access_token: null, domain: 'evil.example' }, data: { INSTALLED: 'N' }, extra: 'x' }))
  t.match(changed, { data: { VERSION: '2', INSTALLED: 'N' }, auth: { domain: 'evil.example', member_id: portal.memberId }, extra: 'x' })
  t.notOk('access_token' in (changed.auth as object), 'a null removes a field')
})

t.test("app.info says which application and portal a live access token belongs to; refuses others as the docs list", async (t) => {
  const { fake, get } = await start(t)
  const portal = fake.install({ memberId: 'm1', domain: 'one.bitrix24.com', version: 4 })
  const { status, body } = await get('/rest/app.info', { auth: portal.accessToken })
  t.equal(status, 200)
  t.same(body.result, {
    client_id: fake.clientId,
    scope: 'imbot,im',
    expires: portal.expires,
    user_id: 1,
    install: { installed: true, version: 4, status: 'L', scope: 'imbot,im', domain: 'one.bitrix24.com', uri: 'https://one.bitrix24.com', client_endpoint: portal.clientEndpoint, member_id: 'm1', member_type: 'PORTAL' },
  })
  t.match(await get('/rest/app.info.json', { auth: 'unknown' }), { status: 401, body: { error: 'invalid_token', error_description: String } })
  t.match(await get('/rest/app.info'), { status: 401, body: { error: 'NO_AUTH_FOUND' } })
  fake.expire('m1')
  t.match(await get('/rest/app.info', { auth: portal.accessToken }), { status: 401, body: { error: 'expired_token' } })
  const foreign = fake.install({ clientId: 'app.another.1' })
  t.equal((await get('/rest/app.info', { auth: foreign.accessToken })).body.result.client_id, 'app.another.1', "another application's token says so")
  t.match(fake.calls.map((c) => [c.endpoint, c.status, c.error, c.generation]), [
    ['app.info', 200, null, 0],
    ['app.info', 401, 'invalid_token', null],
    ['app.info', 401, 'NO_AUTH_FOUND', null],
    ['app.info', 401, 'expired_token', 0],
    ['app.info', 200, null, 0],
  ])
  t.match(await get('/nowhere'), { status: 404, body: { error: 'NOT_FOUND' } })
})

t.test('a refresh gives a new pair; the refresh token used dies at once, the old access token lives on', async (t) => {
  const { fake, get, refresh } = await start(t)
  const portal = fake.install({ memberId: 'm1' })
  const first = await refresh(portal.refreshToken)
  t.equal(first.status, 200)
  t.match(first.body, { access_token: /^[0-9a-f]{32}$/, refresh_token: /^[0-9a-f]{32}$/, expires: Number, expires_in: 3600, scope: 'imbot,im', member_id: 'm1', client_endpoint: portal.clientEndpoint, server_endpoint: `${fake.url}/rest/`, status: 'L', user_id: 1 })
  t.equal(first.body.domain, new URL(fake.url).host, "domain is the OAuth server's, not the portal's")
  t.not(first.body.access_token, portal.accessToken)
  t.not(first.body.refresh_token, portal.refreshToken)
  t.match(await refresh(portal.refreshToken), { status: 400, body: { error: 'invalid_grant' } }, 'single use')
  t.equal((await get('/rest/app.info', { auth: portal.accessToken })).status, 200, 'the old access token is valid until its own expiry')
  t.equal((await get('/rest/app.info', { auth: first.body.access_token })).status, 200)
  t.match(fake.portal('m1'), { generation: 1, refreshes: 1, accessToken: first.body.access_token, refreshToken: first.body.refresh_token })
  const form = await fetch(`${fake.url}/oauth/token/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: fake.clientId, client_secret: fake.clientSecret, refresh_token: first.body.refresh_token }),
  })
  t.equal(form.status, 200, 'a form POST works too')
  t.equal(fake.refreshes('m1'), 2)
  t.match(fake.calls.filter((c) => c.endpoint === 'oauth.token').map((c) => [c.verb, c.status, c.generation, c.memberId]), [
    ['GET', 200, 0, 'm1'],
    ['GET', 400, 0, 'm1'],
    ['POST', 200, 1, 'm1'],
  ])
})

t.test('refuses a wrong client, an unknown, revoked or foreign refresh token, another grant type', async (t) => {
  const { fake, get, refresh } = await start(t)
  const portal = fake.install({ memberId: 'm1' })
  t.match(await refresh(portal.refreshToken, { client_id: fake.clientId, client_secret: 'wrong' }), { status: 401, body: { error: 'invalid_client' } })
  t.match(await refresh(portal.refreshToken, { client_id: 'local.other', client_secret: fake.clientSecret }), { status: 401, body: { error: 'invalid_client' } })
  t.match(await refresh('unknown'), { status: 400, body: { error: 'invalid_grant' } })
  t.match(await get('/oauth/token/', { grant_type: 'authorization_code', client_id: fake.clientId, client_secret: fake.clientSecret, code: 'x' }), { status: 400, body: { error: 'invalid_request' } })
  const foreign = fake.install({ clientId: 'app.another.1' })
  t.match(await refresh(foreign.refreshToken), { status: 400, body: { error: 'invalid_grant' } }, "another application's refresh token")
  t.equal(fake.refreshes('m1'), 0, 'refusals change nothing')
  fake.revoke('m1')
  t.equal(fake.portal('m1')?.refreshToken, null)
  t.match(await refresh(portal.refreshToken), { status: 400, body: { error: 'invalid_grant' } }, 'revoked')
  t.equal((await get('/rest/app.info', { auth: portal.accessToken })).status, 200, 'revoking leaves the access token')
})

t.test("a portal's REST API answers its live tokens, by JSON, form or query, and records the calls without them", async (t) => {
  const { fake, refresh, rest } = await start(t)
  const portal = fake.install({ memberId: 'm1', version: 2 })
  const other = fake.install({ memberId: 'm2' })
  t.match(await rest(portal.clientEndpoint, 'profile', { auth: portal.accessToken }), { status: 200, body: { result: { ID: 1, ADMIN: true }, time: { start: Number } } })
  t.match((await rest(portal.clientEndpoint, 'app.info.json', { auth: portal.accessToken })).body.result, { CODE: fake.clientId, VERSION: 2, INSTALLED: true, STATUS: 'L' }, "the portal's own app.info")
  const form = await fetch(`${portal.clientEndpoint}imbot.v2.Chat.Message.send`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `auth=${portal.accessToken}&dialogId=chat5&fields%5Bmessage%5D=hi`,
  })
  t.same(((await form.json()) as any).result, { method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', fields: { message: 'hi' } } }, 'anything else: echoed without auth')
  const query = await fetch(`${portal.clientEndpoint}user.current?auth=${portal.accessToken}`, { method: 'POST' })
  t.equal(query.status, 200, 'the token in the query')
  t.match(await rest(portal.clientEndpoint, 'profile', {}), { status: 401, body: { error: 'NO_AUTH_FOUND' } })
  t.match(await rest(portal.clientEndpoint, 'profile', { auth: 'nope' }), { status: 401, body: { error: 'invalid_token' } })
  t.match(await rest(portal.clientEndpoint, 'profile', { auth: other.accessToken }), { status: 401, body: { error: 'invalid_token' } }, "another portal's token")
  const renewed = (await refresh(portal.refreshToken)).body
  fake.expire('m1')
  t.match(await rest(portal.clientEndpoint, 'profile', { auth: renewed.access_token }), { status: 401, body: { error: 'expired_token' } })
  t.equal((await rest(portal.clientEndpoint, 'profile', { auth: portal.accessToken })).status, 200, 'expire() ends the current token only')
  const bad = await fetch(`${portal.clientEndpoint}profile`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[1' })
  t.match({ status: bad.status, body: await bad.json() }, { status: 400, body: { error: 'INVALID_REQUEST' } })
  const calls = fake.calls.filter((c) => c.endpoint === 'rest')
  t.match(calls.map((c) => [c.method, c.memberId, c.generation, c.status]), [
    ['profile', 'm1', 0, 200],
    ['app.info', 'm1', 0, 200],
    ['imbot.v2.Chat.Message.send', 'm1', 0, 200],
    ['user.current', 'm1', 0, 200],
    ['profile', 'm1', null, 401],
    ['profile', 'm1', null, 401],
    ['profile', 'm1', null, 401],
    ['profile', 'm1', 1, 401],
    ['profile', 'm1', 0, 200],
  ])
  t.same(calls[2]?.params, { dialogId: 'chat5', fields: { message: 'hi' } })
  const text = JSON.stringify(fake.calls)
  for (const secret of [fake.clientSecret, portal.accessToken, portal.refreshToken, renewed.access_token, renewed.refresh_token]) t.notOk(text.includes(secret), 'no secret in the calls')
})

t.test("fail('503') answers the OAuth endpoints with a bare 503; the portals' REST is not the OAuth server", async (t) => {
  const { fake, get, refresh, rest } = await start(t)
  const portal = fake.install()
  fake.fail('503')
  const response = await fetch(`${fake.url}/rest/app.info?auth=${portal.accessToken}`)
  t.equal(response.status, 503)
  t.match(await response.text(), /503/)
  t.equal((await fetch(`${fake.url}/oauth/token/?grant_type=refresh_token`)).status, 503)
  t.equal((await rest(portal.clientEndpoint, 'profile', { auth: portal.accessToken })).status, 200)
  fake.fail('none')
  t.equal((await get('/rest/app.info', { auth: portal.accessToken })).status, 200)
  t.equal((await refresh(portal.refreshToken)).status, 200, 'a 503 took no effect')
})

t.test("fail('hang') keeps requests unanswered until fail('none'), which answers them", async (t) => {
  const { fake, refresh } = await start(t)
  const portal = fake.install({ memberId: 'm1' })
  fake.fail('hang')
  let answered = false
  const late = refresh(portal.refreshToken).then((reply) => ((answered = true), reply))
  await eventually(() => fake.calls.length === 1)
  t.equal(fake.calls[0]?.status, null)
  t.equal(fake.refreshes('m1'), 0, 'not taken up yet')
  t.notOk(answered)
  fake.fail('none')
  t.match(await late, { status: 200, body: { access_token: String } })
  t.equal(fake.refreshes('m1'), 1)
})

t.test('close does not wait for hanging or delayed requests', async (t) => {
  const fake = await new FakeOAuth().start()
  const portal = fake.install()
  fake.delay(60_000)
  const delayed = fetch(`${fake.url}/oauth/token/?grant_type=refresh_token`).catch((error: Error) => error)
  fake.fail('hang')
  const held = fetch(`${fake.url}/rest/app.info?auth=${portal.accessToken}`).catch((error: Error) => error)
  await eventually(() => fake.calls.length === 2)
  // Closed before either is answered (the delayed one would be in a minute, the hanging one never):
  // a close that waited for them would lose this race, at the latest when the delay is up.
  const answered = (request: Promise<Response | Error>) => request.then((reply) => (reply instanceof Error ? new Promise<never>(() => {}) : 'a request answered first'))
  const delayUp = new Promise<string>((resolve) => setTimeout(() => resolve('the delay was up first'), 60_000).unref())
  t.equal(await Promise.race([fake.close().then(() => 'closed'), answered(held), answered(delayed), delayUp]), 'closed', 'closed at once')
  t.type(await held, Error, 'the connection is cut')
  t.type(await delayed, Error)
})

t.test('delay() makes refreshes overlap: two with one refresh token, one wins, the other gets invalid_grant', async (t) => {
  const { fake, refresh } = await start(t)
  const portal = fake.install({ memberId: 'm1' })
  fake.delay(200)
  const both = Promise.all([refresh(portal.refreshToken), refresh(portal.refreshToken)])
  await eventually(() => fake.calls.length === 2)
  t.same(fake.calls.map((c) => c.status), [null, null], 'both in flight at once')
  const statuses = (await both).map((reply) => reply.status).sort()
  t.same(statuses, [200, 400])
  t.equal(fake.refreshes('m1'), 1)
})

t.test('updateBody: ONAPPUPDATE with the versions, a new application token when given, a fresh pair', async (t) => {
  const { fake, get } = await start(t)
  const portal = fake.install({ memberId: 'm1', version: 1 })
  const update = parseForm(fake.updateBody(portal)) as any
  t.match(update, { event: 'ONAPPUPDATE', data: { VERSION: '2', PREVIOUS_VERSION: '1', LANGUAGE_ID: 'en' }, auth: { member_id: 'm1', domain: portal.domain, application_token: portal.applicationToken, status: 'L', client_endpoint: portal.clientEndpoint, expires_in: '3600', scope: 'imbot,im' } })
  t.not(update.auth.access_token, portal.accessToken, 'an event carries a freshly issued pair')
  t.equal((await get('/rest/app.info', { auth: update.auth.access_token })).status, 200)
  t.equal(fake.portal('m1')?.accessToken, portal.accessToken, 'which is not the stored pair')
  t.equal(fake.calls[0]?.generation, 'event')
  const rotated = parseForm(fake.updateBody(portal, { version: 7, applicationToken: 'new-app-token', withTokens: false }, { event_handler_id: null })) as any
  t.match(rotated, { data: { VERSION: '7', PREVIOUS_VERSION: '2' }, auth: { application_token: 'new-app-token' } })
  t.notOk('access_token' in rotated.auth || 'event_handler_id' in rotated)
  t.match(fake.portal('m1'), { version: 7, applicationToken: 'new-app-token' })
})

t.test('uninstallBody: every token of the portal dies; ONAPPUNINSTALL carries none', async (t) => {
  const { fake, get, refresh } = await start(t)
  const portal = fake.install({ memberId: 'm1' })
  const kept = fake.install({ memberId: 'm2' })
  const body = parseForm(fake.uninstallBody(portal, { clean: true })) as any
  t.same(body.data, { LANGUAGE_ID: 'en', CLEAN: '1' })
  t.same(Object.keys(body.auth).sort(), ['application_token', 'client_endpoint', 'domain', 'member_id', 'server_endpoint'])
  t.match(await get('/rest/app.info', { auth: portal.accessToken }), { status: 401, body: { error: 'invalid_token' } })
  t.match(await refresh(portal.refreshToken), { status: 400, body: { error: 'invalid_grant' } })
  t.match(fake.portal('m1'), { installed: false, refreshToken: null })
  t.equal((await get('/rest/app.info', { auth: kept.accessToken })).status, 200, 'other portals keep theirs')
  t.equal((parseForm(fake.uninstallBody(portal, {}, { ts: '1' })) as any).data.CLEAN, '0')
  const event = parseForm(fake.eventBody(portal, 'ONIMV2MESSAGEADD')) as any
  t.notOk('access_token' in event.auth, 'an uninstalled portal issues no tokens')
  t.throws(() => fake.uninstallBody({ memberId: 'nobody' }), /no portal/)
})

t.test('eventBody: a realistic chat event of the portal, its auth blocks the portal’s with live tokens', async (t) => {
  const { fake, get } = await start(t)
  const portal = fake.install({ memberId: 'm1', domain: 'one.bitrix24.com' })
  const event = parseForm(fake.eventBody(portal)) as any
  t.match(event, {
    event: 'ONIMBOTV2MESSAGEADD',
    data: { bot: { id: '456', auth: { member_id: 'm1', user_id: '456', application_token: portal.applicationToken } }, message: { text: String }, chat: { dialogId: 'chat5' } },
    auth: { member_id: 'm1', domain: 'one.bitrix24.com', client_endpoint: portal.clientEndpoint, application_token: portal.applicationToken, server_endpoint: `${fake.url}/rest/`, user_id: '1' },
  })
  t.equal((await get('/rest/app.info', { auth: event.auth.access_token })).status, 200)
  t.equal((await get('/rest/app.info', { auth: event.data.bot.auth.access_token })).status, 200)
  const user = parseForm(fake.eventBody(portal, 'ONIMV2JOINCHAT', { data: { dialogId: 'chat9' } })) as any
  t.match(user, { event: 'ONIMV2JOINCHAT', data: { dialogId: 'chat9' }, auth: { member_id: 'm1' } })
  t.notOk('bot' in user.data)
})
