import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { OAuthServer } from '../../src/app/oauth-server.ts'
import { RestClient } from '../../src/bitrix/rest-client.ts'
import { fakePortalApp } from '../../src/fake-portal/fake-portal-app.ts'
import { FakePortals } from '../../src/fake-portal/fake-portals.ts'

const CLIENT = { clientId: 'local.app.1', clientSecret: 'the-secret' }

/** The fake's app on `url`, every line it tells kept in `lines`; closed with `t`. */
function fakeApp(t: Test, url = 'http://127.0.0.1:3101') {
  let base = url
  const portals = new FakePortals({ ...CLIENT, url: () => base })
  const lines: string[] = []
  const app = fakePortalApp({ portals, onCall: (line) => void lines.push(line) })
  t.teardown(() => app.close())
  const install = async (portal?: string) => {
    const reply = await app.inject({ method: 'POST', url: '/fake/events', payload: { type: 'ONAPPINSTALL', portal } })
    return (reply.json() as { payload: { auth: Record<string, string> } }).payload.auth
  }
  /** Listens on a free loopback port: the fake's URLs become that port's. */
  const listen = async () => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    return base
  }
  return { app, portals, lines, install, listen }
}

t.test('POST /fake/events hands out a portal’s event, and refuses what is not an event request or not installed, in Bitrix24’s words', async (t) => {
  const { app, lines } = fakeApp(t)
  const early = await app.inject({ method: 'POST', url: '/fake/events', payload: { type: 'ONIMBOTV2JOINCHAT', portal: 'acme.bitrix24.com' } })
  t.equal(early.statusCode, 409)
  t.same(early.json(), { error: 'NOT_INSTALLED', error_description: 'the application is not installed on acme.bitrix24.com: simulate ONAPPINSTALL first' })
  const installed = await app.inject({ method: 'POST', url: '/fake/events', payload: { type: 'ONAPPINSTALL', portal: 'acme.bitrix24.com' } })
  t.equal(installed.statusCode, 200)
  t.match(installed.json(), { payload: { event: 'ONAPPINSTALL', auth: { domain: 'acme.bitrix24.com' } } })
  for (const payload of [{ type: 'ONIMV2MESSAGEADD' }, { type: 'ONAPPINSTALL', chatId: 0 }, { type: 'ONAPPINSTALL', colour: 'red' }, []]) {
    const bad = await app.inject({ method: 'POST', url: '/fake/events', payload })
    t.equal(bad.statusCode, 400, JSON.stringify(payload))
    t.same(bad.json(), { error: 'BAD_REQUEST', error_description: 'not an event request of simulate --fake-portal: {type, portal?, text?, chatId?, userId?}' })
  }
  const broken = await app.inject({ method: 'POST', url: '/fake/events', headers: { 'content-type': 'application/json' }, payload: '{"type": ' })
  t.equal(broken.statusCode, 400, 'a body that is not JSON: Fastify’s own refusal')
  t.same(lines, [
    'POST /fake/events: 409 NOT_INSTALLED (the application is not installed on acme.bitrix24.com: simulate ONAPPINSTALL first)',
    'ONAPPINSTALL of acme.bitrix24.com: handed to simulate, which posts it',
    ...Array(4).fill('POST /fake/events: 400 BAD_REQUEST (not an event request of simulate --fake-portal: {type, portal?, text?, chatId?, userId?})'),
  ])
})

t.test('GET /rest/app.info answers for a live access token; a refusal is told without the query and its token', async (t) => {
  const { app, lines, install } = fakeApp(t)
  const auth = await install()
  const info = await app.inject({ method: 'GET', url: '/rest/app.info', query: { auth: auth.access_token as string } })
  t.equal(info.statusCode, 200)
  t.match(info.json(), { result: { client_id: 'local.app.1', install: { domain: 'example.bitrix24.com', member_id: auth.member_id, client_endpoint: auth.client_endpoint } } })
  const refused = await app.inject({ method: 'GET', url: '/rest/app.info', query: { auth: 'made0up0token' } })
  t.equal(refused.statusCode, 401)
  t.same(refused.json(), { error: 'invalid_token', error_description: 'The access token provided is invalid' })
  t.same(lines.slice(1), ['app.info: an access token of example.bitrix24.com, issued to local.app.1', 'GET /rest/app.info: 401 invalid_token (The access token provided is invalid)'])
})

t.test('GET /oauth/token/ refreshes a pair; POST /portal/MEMBER/rest/METHOD answers a call, told without its token', async (t) => {
  const { app, lines, install } = fakeApp(t)
  const auth = await install()
  const refreshed = await app.inject({ method: 'GET', url: '/oauth/token/', query: { grant_type: 'refresh_token', client_id: 'local.app.1', client_secret: 'the-secret', refresh_token: auth.refresh_token as string } })
  t.equal(refreshed.statusCode, 200)
  const pair = refreshed.json() as { access_token: string; refresh_token: string }
  const call = await app.inject({ method: 'POST', url: `/portal/${auth.member_id}/rest/imbot.v2.Chat.Message.send`, payload: { dialogId: 'chat5', fields: { message: 'hi' }, auth: pair.access_token } })
  t.equal(call.statusCode, 200)
  t.same(call.json(), { result: { id: 1 } })
  const bare = await app.inject({ method: 'POST', url: `/portal/${auth.member_id}/rest/profile`, headers: { 'content-type': 'application/json' }, payload: 'null' })
  t.equal(bare.statusCode, 401)
  t.same(bare.json(), { error: 'NO_AUTH_FOUND', error_description: 'Wrong authorization data' })
  t.same(lines.slice(1), [
    `oauth/token: a new pair of tokens for member ${auth.member_id}`,
    'example.bitrix24.com REST imbot.v2.Chat.Message.send {"dialogId":"chat5","fields":{"message":"hi"}}',
    `POST /portal/${auth.member_id}/rest/profile: 401 NO_AUTH_FOUND (Wrong authorization data)`,
  ])
  for (const token of [auth.refresh_token, pair.access_token, pair.refresh_token, 'the-secret']) t.notOk(lines.join('\n').includes(token as string), 'no token or secret told')
})

t.test('over HTTP it speaks what the receiver’s own clients speak: app.info and a refresh through OAuthServer, a call through RestClient', async (t) => {
  const { listen, install } = fakeApp(t)
  const url = await listen()
  const auth = await install()
  const oauth = new OAuthServer({ url, ...CLIENT, timeoutMs: 5000 })
  t.same(await oauth.appInfo(auth.access_token as string), {
    clientId: 'local.app.1',
    scope: 'imbot,im',
    install: { memberId: auth.member_id, domain: 'example.bitrix24.com', clientEndpoint: `${url}/portal/${auth.member_id}/rest/`, version: '1', installed: true },
  })
  const grant = await oauth.refresh(auth.refresh_token as string)
  t.match(grant, { memberId: auth.member_id, clientEndpoint: auth.client_endpoint, scope: 'imbot,im' })
  await t.rejects(oauth.refresh(auth.refresh_token as string), { code: 'invalid_grant' }, 'spent')
  await t.rejects(new OAuthServer({ url, ...CLIENT, clientSecret: 'wrong', timeoutMs: 5000 }).refresh(grant.refreshToken), { code: 'invalid_client' })
  const rest = new RestClient({ kind: 'oauth', baseUrl: auth.client_endpoint as string, domain: 'example.bitrix24.com', accessToken: grant.accessToken }, { timeoutMs: 5000 })
  t.same(await rest.call('imbot.v2.Chat.Message.send', { dialogId: 'chat5', fields: { message: 'hi' } }), { id: 1 })
})
