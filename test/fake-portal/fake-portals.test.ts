import { createHash } from 'node:crypto'
import t from 'tap'
import { FakePortalRefusal, FakePortals } from '../../src/fake-portal/fake-portals.ts'

const URL_BASE = 'http://127.0.0.1:3101'

/** Fake portals on a clock the test moves. */
function fakePortals() {
  const clock = { now: 1767225600000 }
  const portals = new FakePortals({ clientId: 'local.app.1', clientSecret: 'the-secret', url: () => URL_BASE, now: () => clock.now })
  return { portals, clock }
}

type Auth = Record<string, string>
const authOf = (payload: Record<string, unknown>) => payload.auth as Auth

t.test('an install issues the portal an application token and a pair of tokens that app.info knows as the application’s, on that portal', async (t) => {
  const { portals } = fakePortals()
  const install = portals.event({ type: 'ONAPPINSTALL', portal: 'acme.bitrix24.com' })
  const memberId = createHash('md5').update('acme.bitrix24.com').digest('hex')
  const endpoint = `${URL_BASE}/portal/${memberId}/rest/`
  t.match(install, {
    event: 'ONAPPINSTALL',
    data: { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'en' },
    ts: 1767225600,
    auth: { domain: 'acme.bitrix24.com', member_id: memberId, client_endpoint: endpoint, server_endpoint: `${URL_BASE}/rest/`, scope: 'imbot,im', expires: '1767229200', expires_in: '3600', status: 'L', user_id: '1' },
  })
  const auth = authOf(install)
  for (const key of ['access_token', 'refresh_token', 'application_token']) t.match(auth[key], /^[0-9a-f]{32}$/, key)
  t.same(portals.appInfo(auth.access_token), {
    client_id: 'local.app.1',
    scope: 'imbot,im',
    expires: 1767229200,
    user_id: 1,
    install: { installed: true, version: 1, status: 'L', scope: 'imbot,im', domain: 'acme.bitrix24.com', uri: 'https://acme.bitrix24.com', client_endpoint: endpoint, member_id: memberId, member_type: 'PORTAL' },
  })
  t.equal(authOf(portals.event({ type: 'ONAPPINSTALL' })).domain, 'example.bitrix24.com', 'the sample portal when none is named')
})

t.test('a bot event carries the portal’s application token and fresh tokens, the bot’s too, for the same endpoint', async (t) => {
  const { portals } = fakePortals()
  const install = authOf(portals.event({ type: 'ONAPPINSTALL' }))
  const event = portals.event({ type: 'ONIMBOTV2MESSAGEADD', text: 'hi', chatId: 7, userId: 9 })
  const auth = authOf(event)
  const bot = (event.data as { bot: { id: number; auth: Auth } }).bot
  t.match(event, { event: 'ONIMBOTV2MESSAGEADD', data: { message: { text: 'hi', chatId: 7, authorId: 9 }, chat: { dialogId: 'chat7' } } })
  t.match(auth, { application_token: install.application_token, member_id: install.member_id, client_endpoint: install.client_endpoint })
  t.match(bot.auth, { application_token: install.application_token, member_id: install.member_id, client_endpoint: install.client_endpoint, user_id: String(bot.id) })
  t.not(auth.access_token, install.access_token, 'a fresh pair')
  t.not(bot.auth.access_token, auth.access_token)
  for (const token of [auth.access_token, bot.auth.access_token]) t.equal(portals.call(install.member_id as string, 'profile', token).result, true, 'each token calls the portal')
  t.match(portals.event({ type: 'ONIMBOTV2DELETE' }).data, { bot: { auth: { application_token: install.application_token } } }, 'every bot event')
})

t.test('an update raises the version; an uninstall revokes every token and carries none; events then are refused until the next install', async (t) => {
  const { portals } = fakePortals()
  t.throws(() => portals.event({ type: 'ONAPPUPDATE' }), { status: 409, code: 'NOT_INSTALLED', message: 'the application is not installed on example.bitrix24.com: simulate ONAPPINSTALL first' })
  const first = authOf(portals.event({ type: 'ONAPPINSTALL' }))
  t.match(portals.event({ type: 'ONAPPUPDATE' }), { event: 'ONAPPUPDATE', data: { VERSION: '2', PREVIOUS_VERSION: '1', LANGUAGE_ID: 'en' }, auth: { application_token: first.application_token } })
  const uninstall = portals.event({ type: 'ONAPPUNINSTALL' })
  t.same(uninstall.data, { LANGUAGE_ID: 'en', CLEAN: '0' })
  t.same(Object.keys(authOf(uninstall)).sort(), ['application_token', 'client_endpoint', 'domain', 'member_id', 'server_endpoint'], 'no token: REST access is gone')
  t.throws(() => portals.appInfo(first.access_token), { code: 'invalid_token' })
  t.throws(() => portals.refresh({ grant_type: 'refresh_token', client_id: 'local.app.1', client_secret: 'the-secret', refresh_token: first.refresh_token }), { code: 'invalid_grant' })
  for (const type of ['ONIMBOTV2MESSAGEADD', 'ONAPPUNINSTALL'] as const) t.throws(() => portals.event({ type }), { code: 'NOT_INSTALLED' }, type)

  const again = authOf(portals.event({ type: 'ONAPPINSTALL' }))
  t.equal(again.member_id, first.member_id, 'the same portal')
  t.not(again.application_token, first.application_token, 'a new application token')
  t.equal(portals.appInfo(again.access_token).install.version, 2, 'the version it had')
})

t.test('an install again revokes what the portal had before', async (t) => {
  const { portals } = fakePortals()
  const first = authOf(portals.event({ type: 'ONAPPINSTALL' }))
  const other = authOf(portals.event({ type: 'ONAPPINSTALL', portal: 'other.bitrix24.com' }))
  portals.event({ type: 'ONAPPINSTALL' })
  t.throws(() => portals.appInfo(first.access_token), { code: 'invalid_token' })
  t.equal(portals.appInfo(other.access_token).install.domain, 'other.bitrix24.com', 'another portal keeps its tokens')
})

t.test('app.info refuses a missing, unknown or expired access token', async (t) => {
  const { portals, clock } = fakePortals()
  const auth = authOf(portals.event({ type: 'ONAPPINSTALL' }))
  t.throws(() => portals.appInfo(undefined), { status: 401, code: 'NO_AUTH_FOUND' })
  t.throws(() => portals.appInfo(''), { status: 401, code: 'NO_AUTH_FOUND' })
  t.throws(() => portals.appInfo('nope'), { status: 401, code: 'invalid_token' })
  clock.now += 3599_000
  t.ok(portals.appInfo(auth.access_token), 'alive for its hour')
  clock.now += 1000
  t.throws(() => portals.appInfo(auth.access_token), { status: 401, code: 'expired_token', message: 'The access token provided has expired' })
})

t.test('a refresh needs our client id and secret and an unused refresh token; it gives a new pair and spends the old', async (t) => {
  const { portals, clock } = fakePortals()
  const auth = authOf(portals.event({ type: 'ONAPPINSTALL', portal: 'acme.bitrix24.com' }))
  const query = { grant_type: 'refresh_token', client_id: 'local.app.1', client_secret: 'the-secret', refresh_token: auth.refresh_token }
  t.throws(() => portals.refresh({ ...query, grant_type: 'authorization_code' }), new FakePortalRefusal(400, 'invalid_request', 'grant_type must be refresh_token'))
  t.throws(() => portals.refresh({ ...query, client_secret: 'wrong' }), { status: 401, code: 'invalid_client' })
  t.throws(() => portals.refresh({ ...query, client_id: 'local.other' }), { status: 401, code: 'invalid_client' })
  t.throws(() => portals.refresh({ ...query, refresh_token: 'nope' }), { status: 400, code: 'invalid_grant' })
  t.throws(() => portals.refresh({ ...query, refresh_token: undefined }), { status: 400, code: 'invalid_grant' })
  clock.now += 7200_000
  const answer = portals.refresh(query)
  t.match(answer, { expires: 1767225600 + 7200 + 3600, expires_in: 3600, scope: 'imbot,im', member_id: auth.member_id, client_endpoint: auth.client_endpoint, server_endpoint: `${URL_BASE}/rest/`, domain: '127.0.0.1:3101', status: 'L', user_id: 1 })
  t.equal(portals.appInfo(answer.access_token).install.domain, 'acme.bitrix24.com', 'the new access token is live')
  t.throws(() => portals.refresh(query), { code: 'invalid_grant' }, 'a refresh token is good once')
  t.ok(portals.refresh({ ...query, refresh_token: answer.refresh_token }), 'the new one is good')
})

t.test('a REST call needs a live token of that portal; a message gets an id, anything else true', async (t) => {
  const { portals } = fakePortals()
  const acme = authOf(portals.event({ type: 'ONAPPINSTALL', portal: 'acme.bitrix24.com' }))
  const other = authOf(portals.event({ type: 'ONAPPINSTALL', portal: 'other.bitrix24.com' }))
  t.same(portals.call(acme.member_id as string, 'imbot.v2.Chat.Message.send', acme.access_token), { domain: 'acme.bitrix24.com', result: { id: 1 } })
  t.same(portals.call(acme.member_id as string, 'imbot.v2.Chat.Message.send', acme.access_token).result, { id: 2 })
  t.same(portals.call(acme.member_id as string, 'imbot.v2.Bot.register', acme.access_token).result, true)
  t.throws(() => portals.call(acme.member_id as string, 'profile', other.access_token), { status: 401, code: 'invalid_token' }, 'another portal’s token')
  t.throws(() => portals.call(acme.member_id as string, 'profile', undefined), { code: 'NO_AUTH_FOUND' })
})
