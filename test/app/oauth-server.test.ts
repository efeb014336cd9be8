import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { isDefinite, OAuthServer, type OAuthServerOptions } from '../../src/app/oauth-server.ts'
import { BitrixError } from '../../src/bitrix/bitrix-error.ts'
import { createLogger } from '../../src/log/create-logger.ts'
import { FakeOAuth } from '../fakes/fake-oauth.ts'
import { captureLogs } from '../helpers.ts'

const CLIENT_SECRET = 'cl13nt-s3cr3t-0000000000'
// Tokens as long as real ones: a server's words are scrubbed of what we sent it.
const ACCESS_TOKEN = 'acc3ss-t0k3n-0000000000000000'
const REFRESH_TOKEN = 'r3fr3sh-t0k3n-000000000000000'

async function fake(t: Test) {
  const server = await new FakeOAuth({ clientId: 'local.app.1', clientSecret: CLIENT_SECRET }).start()
  t.teardown(() => server.close())
  return server
}

const client = (url: string, options: Partial<OAuthServerOptions> = {}) => new OAuthServer({ url, clientId: 'local.app.1', clientSecret: CLIENT_SECRET, timeoutMs: 10_000, ...options })

const failure = async (promise: Promise<unknown>): Promise<BitrixError> => {
  const error = await promise.then(
    () => new Error('it did not fail'),
    (e: unknown) => e,
  )
  if (!(error instanceof BitrixError)) throw error
  return error
}

/** An OAuth server whose every answer the test writes; it records the URLs it was asked. */
async function odd(t: Test) {
  const seen: string[] = []
  let answer = (_request: IncomingMessage, response: ServerResponse) => void response.end('{}')
  const server = createServer((request, response) => {
    seen.push(request.url as string)
    answer(request, response)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    seen,
    answer: (fn: typeof answer) => void (answer = fn),
    json: (status: number, body: unknown) => (answer = (_q, response) => void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))),
  }
}

const INSTALL = { domain: 'one.bitrix24.com', client_endpoint: 'https://one.bitrix24.com/rest/', member_id: 'm1' }

t.test('appInfo: the application and the portal of a live access token', async (t) => {
  const server = await fake(t)
  const portal = server.install({ memberId: 'm1', domain: 'one.bitrix24.com', scope: 'imbot,im', version: 3 })
  const info = await client(`${server.url}/`).appInfo(portal.accessToken)
  t.same(info, { clientId: 'local.app.1', scope: 'imbot,im', install: { memberId: 'm1', domain: 'one.bitrix24.com', clientEndpoint: portal.clientEndpoint, version: '3', installed: true } })
  const foreign = server.install({ clientId: 'app.another.1' })
  t.equal((await client(server.url).appInfo(foreign.accessToken)).clientId, 'app.another.1', "another application's token says whose it is")
  t.match(server.calls, [{ endpoint: 'app.info', verb: 'GET', status: 200 }, { endpoint: 'app.info', status: 200 }], 'a trailing slash in the URL is fine')
})

t.test('appInfo: an unknown or expired token is a definite refusal', async (t) => {
  const server = await fake(t)
  const portal = server.install({ memberId: 'm1' })
  const oauth = client(server.url)
  const unknown = await failure(oauth.appInfo('not-a-token'))
  t.match(unknown, { name: 'BitrixError', method: 'app.info', code: 'invalid_token', status: 401, description: 'The access token provided is invalid' })
  t.ok(isDefinite(unknown))
  server.expire('m1')
  const expired = await failure(oauth.appInfo(portal.accessToken))
  t.match(expired, { method: 'app.info', code: 'expired_token', status: 401 })
  t.ok(isDefinite(expired))
  t.match(await failure(oauth.appInfo('')), { code: 'NO_AUTH_FOUND', status: 401 })
})

t.test('refresh: a new pair, its expiry from `expires`; the refresh token used is dead after', async (t) => {
  const server = await fake(t)
  const portal = server.install({ memberId: 'm1', scope: 'imbot' })
  const oauth = client(server.url)
  const grant = await oauth.refresh(portal.refreshToken)
  const now = server.portal('m1')
  t.same(grant, {
    accessToken: now?.accessToken,
    refreshToken: now?.refreshToken,
    expiresAt: grant.expiresAt,
    scope: 'imbot',
    memberId: 'm1',
    clientEndpoint: portal.clientEndpoint,
  })
  t.equal(grant.expiresAt % 1000, 0, 'from unix seconds')
  t.ok(Math.abs(grant.expiresAt - (Date.now() + 3600_000)) < 5000, 'an hour ahead')
  t.equal(server.refreshes('m1'), 1)
  t.match(server.calls.at(-1), { endpoint: 'oauth.token', verb: 'GET', params: { grant_type: 'refresh_token', client_id: 'local.app.1' }, generation: 0 })
  const used = await failure(oauth.refresh(portal.refreshToken))
  t.match(used, { method: 'oauth.token', code: 'invalid_grant', status: 400 })
  t.ok(isDefinite(used), 'reinstall needed')
  t.ok(await oauth.refresh(grant.refreshToken), 'the new one works')
})

t.test('refresh: a wrong client id or secret is a definite invalid_client', async (t) => {
  const server = await fake(t)
  const portal = server.install()
  for (const options of [{ clientSecret: 'wrong' }, { clientId: 'local.other' }]) {
    const refused = await failure(client(server.url, options).refresh(portal.refreshToken))
    t.match(refused, { code: 'invalid_client', status: 401 })
    t.ok(isDefinite(refused))
  }
  server.revoke(portal.memberId)
  t.match(await failure(client(server.url).refresh(portal.refreshToken)), { code: 'invalid_grant' }, 'revoked')
})

t.test('no answer: a 503, a hanging server, a refused connection are not definite', async (t) => {
  const server = await fake(t)
  const portal = server.install()
  server.fail('503')
  const down = await failure(client(server.url).appInfo(portal.accessToken))
  t.match(down, { code: 'HTTP_503', status: 503, description: '' })
  t.notOk(isDefinite(down))
  t.match(await failure(client(server.url).refresh(portal.refreshToken)), { code: 'HTTP_503' })
  // A real timeout that cannot flake: the server never answers, so only the timeout can end the call.
  server.fail('hang')
  const slow = await failure(client(server.url, { timeoutMs: 600_000 }).appInfo(portal.accessToken, 50))
  t.match(slow, { method: 'app.info', code: 'TIMEOUT', status: null, message: 'app.info: TIMEOUT: no answer within 50 ms' })
  t.notOk(isDefinite(slow))
  t.match(await failure(client(server.url, { timeoutMs: 50 }).refresh(portal.refreshToken)), { method: 'oauth.token', code: 'TIMEOUT' }, 'the default timeout')
  server.fail('none')
  const gone = createServer()
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve))
  const { port } = gone.address() as AddressInfo
  await new Promise((resolve) => gone.close(resolve))
  const refused = await failure(client(`http://127.0.0.1:${port}`).appInfo(ACCESS_TOKEN))
  t.match(refused, { code: 'NETWORK_ERROR', status: null, description: 'ECONNREFUSED' })
  t.notOk(isDefinite(refused))
  // fetch refuses some ports itself, with an error that has no code
  t.match(await failure(client('http://127.0.0.1:1').refresh(REFRESH_TOKEN)), { code: 'NETWORK_ERROR', description: 'the connection failed' })
})

t.test('odd answers: garbage, a body without what we rely on, other statuses', async (t) => {
  const server = await odd(t)
  const oauth = client(server.url)
  const cases: Array<[number, unknown, string, boolean]> = [
    [200, 'not json', 'ERROR_UNEXPECTED_ANSWER', false],
    [200, [1, 2], 'ERROR_UNEXPECTED_ANSWER', false],
    [200, { time: {} }, 'ERROR_UNEXPECTED_ANSWER', false],
    [200, { result: { client_id: 'local.app.1', install: { ...INSTALL, member_id: undefined } } }, 'ERROR_UNEXPECTED_ANSWER', false],
    [200, { result: { client_id: '', install: INSTALL } }, 'ERROR_UNEXPECTED_ANSWER', false],
    [200, { result: { client_id: 'local.app.1', install: { ...INSTALL, client_endpoint: 7 } } }, 'ERROR_UNEXPECTED_ANSWER', false],
    [429, '', 'HTTP_429', false],
    [408, '', 'HTTP_408', false],
    [502, '<html>Bad Gateway</html>', 'HTTP_502', false],
    [500, { error: 'INTERNAL_SERVER_ERROR', error_description: 'oops' }, 'INTERNAL_SERVER_ERROR', false],
    [404, '<html>Not Found</html>', 'HTTP_404', true],
    [403, { error: 'ACCESS_DENIED' }, 'ACCESS_DENIED', true],
    [200, { error: 'PAYMENT_REQUIRED', error_description: 'Payment required' }, 'PAYMENT_REQUIRED', true],
    [200, { error: 'SOMETHING_NEW' }, 'SOMETHING_NEW', false],
    [503, { error: 'invalid_token' }, 'invalid_token', true],
  ]
  for (const [status, body, code, definite] of cases) {
    server.answer((_q, response) => void response.writeHead(status).end(typeof body === 'string' ? body : JSON.stringify(body)))
    const error = await failure(oauth.appInfo(ACCESS_TOKEN))
    t.match(error, { code, status }, `${status} ${JSON.stringify(body)}`)
    t.equal(isDefinite(error), definite, `${code} is ${definite ? '' : 'not '}definite`)
  }
  server.json(200, { error: 'invalid_grant', error_description: 42 })
  t.match(await failure(oauth.refresh(REFRESH_TOKEN)), { code: 'invalid_grant', description: '' })
  server.json(200, { access_token: 'a', expires_in: 3600 })
  t.match(await failure(oauth.refresh(REFRESH_TOKEN)), { code: 'ERROR_UNEXPECTED_ANSWER', status: 200, description: 'the answer holds no access and refresh token' })
})

t.test('a redirect is not followed: the query holds the token or the secret', async (t) => {
  const elsewhere = await odd(t)
  const server = await odd(t)
  server.answer((_q, response) => void response.writeHead(302, { location: `${elsewhere.url}/oauth/token/?stolen=1` }).end())
  const error = await failure(client(server.url).refresh(REFRESH_TOKEN))
  t.match(error, { code: 'HTTP_302', status: 302 })
  t.notOk(isDefinite(error))
  t.same(elsewhere.seen, [])
})

t.test('lenient on what we do not rely on: numbers as strings, flags as Y/N, missing fields', async (t) => {
  const server = await odd(t)
  const oauth = client(server.url)
  const info = (result: Record<string, unknown>) => {
    server.json(200, { result: { client_id: 'local.app.1', install: INSTALL, ...result } })
    return oauth.appInfo(ACCESS_TOKEN)
  }
  t.same((await info({})).install, { memberId: 'm1', domain: 'one.bitrix24.com', clientEndpoint: 'https://one.bitrix24.com/rest/', version: null, installed: null })
  t.equal((await info({})).scope, null)
  t.match(await info({ scope: '', install: { ...INSTALL, scope: 'imbot', version: 2, installed: 'N' } }), { scope: 'imbot', install: { version: '2', installed: false } }, "install's scope when the top one is empty")
  t.match(await info({ scope: 'im', install: { ...INSTALL, version: '1.0.1', installed: 'Y', member_type: 'PORTAL' }, expires: '1789549501', user_id: '1' }), { scope: 'im', install: { version: '1.0.1', installed: true } })
  t.match(await info({ scope: ['im'], install: { ...INSTALL, version: { major: 1 }, installed: 'maybe' } }), { scope: null, install: { version: null, installed: null } }, 'odd forms are ignored, not refused')

  const grant = (answer: Record<string, unknown>) => {
    server.json(200, { access_token: 'a2', refresh_token: 'r2', ...answer })
    return oauth.refresh(REFRESH_TOKEN)
  }
  const asked = Date.now()
  t.same(await grant({ expires: '1789549501', expires_in: '3600', member_id: 'm1', scope: 'imbot', client_endpoint: 'https://one.bitrix24.com/rest/', domain: 'oauth.bitrix.info' }), {
    accessToken: 'a2',
    refreshToken: 'r2',
    expiresAt: 1789549501000,
    scope: 'imbot',
    memberId: 'm1',
    clientEndpoint: 'https://one.bitrix24.com/rest/',
  })
  const inMinutes = (await grant({ expires_in: '120' })).expiresAt
  t.ok(inMinutes >= asked + 120_000 && inMinutes <= Date.now() + 120_000, 'expires_in counts from when we asked')
  const fromNumber = (await grant({ expires_in: 60, expires: 0 })).expiresAt
  t.ok(fromNumber >= asked + 60_000 && fromNumber <= Date.now() + 60_000, 'a zero expires is no expiry')
  const unsaid = await grant({ expires: 'soon', expires_in: -5, member_id: 7, scope: null })
  t.ok(unsaid.expiresAt >= asked + 3600_000 && unsaid.expiresAt <= Date.now() + 3600_000, 'neither readable: the documented hour')
  t.match(unsaid, { memberId: '7', scope: null, clientEndpoint: null })
  t.equal((await grant({ expires: 1789549501.5, expires_in: Number.NaN })).expiresAt - asked >= 3600_000 - 1000, true, 'a fraction is no unix time')
})

t.test('never a token, the secret or the URL in a message or a log line', async (t) => {
  const logs = captureLogs()
  const logger = createLogger({ level: 'debug' }, logs.stream)
  const server = await fake(t)
  const portal = server.install({ memberId: 'm1' })
  const oauth = client(server.url, { logger })
  const messages: string[] = []
  const grant = await oauth.refresh(portal.refreshToken)
  await oauth.appInfo(grant.accessToken)
  messages.push((await failure(oauth.refresh(portal.refreshToken))).message)
  messages.push((await failure(client(server.url, { clientSecret: `${CLIENT_SECRET}x`, logger }).refresh(grant.refreshToken))).message)
  server.expire('m1')
  messages.push((await failure(oauth.appInfo(grant.accessToken))).message)
  server.fail('hang')
  messages.push((await failure(oauth.appInfo(portal.accessToken, 20))).message)
  server.fail('503')
  messages.push((await failure(oauth.refresh(grant.refreshToken))).message)

  // A server that echoes what it was sent.
  const echo = await odd(t)
  echo.answer((request, response) => {
    const query = new URL(request.url as string, echo.url).searchParams
    const said = `got ${query.get('auth') ?? ''} ${query.get('refresh_token') ?? ''} ${query.get('client_secret') ?? ''}`
    response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `bad_${query.get('auth') ?? query.get('refresh_token')}`, error_description: said }))
  })
  const echoed = client(echo.url, { logger })
  const refused = await failure(echoed.refresh('r3fr3sh-t0k3n-0000000'))
  t.equal(refused.code, 'bad_[redacted]')
  t.equal(refused.description, 'got  [redacted] [redacted]')
  messages.push(refused.message, (await failure(echoed.appInfo('acc3ss-t0k3n-0000000'))).message)

  const lines = logs.parsed().filter((line) => line.msg === 'oauth server call')
  t.equal(lines.length, 9)
  t.match(lines[0], { level: 20, method: 'oauth.token', status: 200, ms: Number })
  t.match(lines[2], { method: 'oauth.token', status: 400, error: 'invalid_grant' })
  t.match(lines[5], { method: 'app.info', status: null, error: 'TIMEOUT' })
  t.match(lines[6], { method: 'oauth.token', status: 503, error: 'HTTP_503' })
  const said = logs.text() + messages.join('\n')
  for (const secret of [CLIENT_SECRET, portal.accessToken, portal.refreshToken, grant.accessToken, grant.refreshToken, 'r3fr3sh-t0k3n-0000000', 'acc3ss-t0k3n-0000000', server.url, echo.url]) {
    t.notOk(said.includes(secret), 'nothing secret is said')
  }
})

t.test('isDefinite: a refusal code whatever the status, or a 4xx but 408 and 429', async (t) => {
  const error = (code: string, status: number | null) => new BitrixError('oauth.token', code, status, '')
  for (const code of ['invalid_token', 'expired_token', 'NO_AUTH_FOUND', 'invalid_grant', 'invalid_client', 'wrong_client', 'invalid_request', 'invalid_scope', 'insufficient_scope', 'PAYMENT_REQUIRED']) {
    t.ok(isDefinite(error(code, 200)), code)
  }
  t.ok(isDefinite(error('HTTP_400', 400)))
  t.ok(isDefinite(error('HTTP_401', 401)))
  for (const [code, status] of [['TIMEOUT', null], ['NETWORK_ERROR', null], ['HTTP_500', 500], ['HTTP_429', 429], ['HTTP_408', 408], ['ERROR_UNEXPECTED_ANSWER', 400], ['QUERY_LIMIT_EXCEEDED', 503], ['HTTP_302', 302]] as const) {
    t.notOk(isDefinite(error(code, status)), `${code} ${status}`)
  }
})
