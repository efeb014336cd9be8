import { connect, type Socket } from 'node:net'
import { existsSync, rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { once } from 'node:events'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { samplePayload } from '../../src/simulate/sample-payload.ts'
import { startServer } from '../../src/service/start-server.ts'
import { readLocalToken } from '../../src/auth/local-token.ts'
import { FakeOAuth } from '../fakes/fake-oauth.ts'
import { captureLogs, eventually, runCommand } from '../helpers.ts'
import { adminQuery, testDatabase } from '../store/postgres/postgres-fixture.ts'

const post = (url: string, token: string) =>
  fetch(`${url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: encodeForm(samplePayload({ type: 'ONIMBOTV2MESSAGEADD', token, text: 'hi' }) as PhpValue),
  })

t.test('starts on a fresh clone with a local token it names, and refuses other tokens', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const logs = captureLogs()
  const server = await startServer({ PORT: '0', DATA_DIR: dataDir }, { destination: logs.stream })
  t.teardown(server.close)
  const token = await readLocalToken(dataDir)
  t.match(token, /^[0-9a-f]{32}$/)
  t.equal((await post(server.url, token as string)).status, 200)
  t.equal((await post(server.url, 'a-real-portal-token')).status, 401)
  t.equal((await fetch(`${server.url}/ready`)).status, 200)
  t.match(await (await fetch(`${server.url}/health`)).json(), { status: 'ok', events: { accepted: 1 } })
  await server.close()
  const lines = logs.parsed()
  t.match(lines[0], { level: 40, msg: /B24_APP_TOKENS is not set: only the local token in .*local-app-token is accepted/ })
  t.match(lines.find((line) => line.msg === 'request'), { statusCode: 200 })
  t.match(logs.text(), /"msg":"event"/)
  t.notOk(logs.text().includes(token as string), 'the token itself is never logged')
  t.match(lines.at(-1), { msg: 'closed' })
})

t.test('with no token and a DATA_DIR it cannot write, it stops with one line naming both', async (t) => {
  const file = join(t.testdir({ taken: 'a file, not a directory' }), 'taken')
  await t.rejects(startServer({ PORT: '0', DATA_DIR: file }, { destination: captureLogs().stream }), {
    name: 'ConfigError',
    message: `B24_APP_TOKENS is not set and no local token can be kept in DATA_DIR ${file} (EEXIST): make it writable for this user, or set B24_APP_TOKENS`,
  })
})

t.test('uses the configured tokens and makes no local one', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const logs = captureLogs()
  const server = await startServer({ PORT: '0', HOST: '::1', DATA_DIR: dataDir, B24_APP_TOKENS: 'portal-token' }, { destination: logs.stream })
  t.teardown(server.close)
  t.equal((await post(server.url, 'portal-token')).status, 200)
  t.notOk(existsSync(join(dataDir, 'local-app-token')))
  t.notOk(logs.text().includes('B24_APP_TOKENS is not set'))
})

t.test('warns at start of each misspelled or unknown setting, naming what it likely means, never its value', async (t) => {
  const logs = captureLogs()
  const server = await startServer({ PORT: '0', DATA_DIR: join(t.testdir(), 'data'), B24_APP_TOKENS: 'portal-token', B24_APP_TOKEN: 'typo-token-value', B24_WHATEVER_ELSE_ENTIRELY: 'x', PORTT: '8080' }, { destination: logs.stream })
  t.teardown(server.close)
  const warnings = logs.parsed().filter((line) => line.level === 40)
  t.match(warnings, [
    { variable: 'B24_APP_TOKEN', likely: 'B24_APP_TOKENS', msg: 'B24_APP_TOKEN is not a setting of b24-receiver and is ignored: did you mean B24_APP_TOKENS?' },
    { variable: 'B24_WHATEVER_ELSE_ENTIRELY', likely: null, msg: 'B24_WHATEVER_ELSE_ENTIRELY is not a setting of b24-receiver and is ignored' },
    { variable: 'PORTT', likely: 'PORT', msg: /did you mean PORT\?$/ },
  ])
  t.equal(warnings.length, 3)
  t.notOk(logs.text().includes('typo-token-value'), 'the value is never logged')
})

t.test('a port or address it cannot listen on is one clear line, and nothing is left running', async (t) => {
  // One testdir for all three: each t.testdir() call empties the folder, the first server's DATA_DIR too.
  const dir = t.testdir()
  const first = await startServer({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dir, 'first'), B24_APP_TOKENS: 'portal-token' }, { destination: captureLogs().stream })
  t.teardown(first.close)
  const port = new URL(first.url).port
  await t.rejects(startServer({ PORT: port, HOST: '127.0.0.1', DATA_DIR: join(dir, 'second'), B24_APP_TOKENS: 'portal-token' }, { destination: captureLogs().stream }), {
    name: 'ConfigError',
    message: `cannot listen on 127.0.0.1:${port}: another process is listening there: stop it, or set PORT`,
  })
  // 192.0.2.1 (TEST-NET-1) is on no interface of this machine.
  await t.rejects(startServer({ PORT: '0', HOST: '192.0.2.1', DATA_DIR: join(dir, 'third'), B24_APP_TOKENS: 'portal-token' }, { destination: captureLogs().stream }), {
    name: 'ConfigError',
    message: /^cannot listen on 192\.0\.2\.1:0: listen EADDRNOTAVAIL/,
  })
  // Untouched: it goes on to be ready (it may still be starting on a loaded machine) and answers.
  await eventually(async () => (await fetch(`${first.url}/ready`)).status === 200)
  t.equal((await fetch(`${first.url}/health`)).status, 200, 'the one listening is untouched')
})

t.test('application mode without B24_APP_TOKENS: no local token is made or accepted, and it says whose events it accepts', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const logs = captureLogs()
  const server = await startServer({ PORT: '0', DATA_DIR: dataDir, B24_CLIENT_ID: 'app.1', B24_CLIENT_SECRET: 'cl13nt-s3cr3t' }, { destination: logs.stream })
  t.teardown(server.close)
  t.notOk(existsSync(join(dataDir, 'local-app-token')), 'no local token file')
  t.equal(await readLocalToken(dataDir), null)
  t.equal((await post(server.url, 'c76f868e000000000000000000000000')).status, 401, 'no portal has installed the application yet')
  t.equal((await fetch(`${server.url}/ready`)).status, 200)
  const lines = logs.parsed()
  t.match(lines[0], { level: 30, msg: 'application mode without B24_APP_TOKENS: events are accepted from the portals that installed the application, with the application token each one was given' })
  t.match(lines.find((line) => /is listening/.test(String(line.msg))), { tokens: 0 })
  t.notOk(logs.text().includes('B24_APP_TOKENS is not set'))
  t.notOk(logs.text().includes('cl13nt-s3cr3t'), 'the client secret is never logged')
})

t.test('application mode with B24_APP_TOKENS: those tokens are accepted too, and no local token is made', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const logs = captureLogs()
  const server = await startServer({ PORT: '0', DATA_DIR: dataDir, B24_APP_TOKENS: 'portal-token', B24_CLIENT_ID: 'app.1', B24_CLIENT_SECRET: 'cl13nt-s3cr3t' }, { destination: logs.stream })
  t.teardown(server.close)
  t.equal((await post(server.url, 'portal-token')).status, 200)
  t.notOk(existsSync(join(dataDir, 'local-app-token')))
  t.notOk(logs.text().includes('application mode without B24_APP_TOKENS'))
})

t.test('refuses to start on a bad variable', async (t) => {
  await t.rejects(startServer({ PORT: 'x' }), { name: 'ConfigError', message: /PORT must be integer/ })
})

const rawRequest = (port: number) =>
  new Promise<Socket>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket))
  })

t.test('closing: /ready says so, a request in flight completes, handlers finish', async (t) => {
  const logs = captureLogs()
  let release = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  const server = await startServer(
    { PORT: '0', DATA_DIR: t.testdir(), B24_APP_TOKENS: 'tok', SHUTDOWN_TIMEOUT_MS: '5000' },
    { destination: logs.stream, setup: (receiver) => receiver.onAny(() => held) },
  )
  t.equal((await post(server.url, 'tok')).status, 200, 'an event whose handler is still running')
  const port = Number(new URL(server.url).port)
  const body = encodeForm(samplePayload({ type: 'ONIMV2MESSAGEADD', token: 'tok' }) as PhpValue)
  const socket = await rawRequest(port)
  let replies = ''
  socket.on('data', (chunk) => (replies += chunk.toString()))
  const ended = once(socket, 'close')
  const arrived = once(server.app.server, 'request')
  socket.write(`POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 100)}`)
  await arrived
  const closing = server.close()
  t.equal(server.close(), closing, 'closing twice is closing once')
  await eventually(() => server.receiver.ready().reason === 'closing')
  // The rest of the body, then a pipelined readiness probe that arrives while closing.
  socket.write(body.slice(100) + 'GET /ready HTTP/1.1\r\nHost: x\r\n\r\n')
  await eventually(() => replies.includes('"reason":"closing"'))
  release()
  await closing
  await ended
  t.match(replies, /^HTTP\/1.1 200[\s\S]*\{"ok":true\}[\s\S]*HTTP\/1.1 503[\s\S]*\{"ready":false,"reason":"closing"\}/)
  t.match(logs.text(), /"msg":"closing: finishing requests and handlers in flight"[\s\S]*"msg":"event"[\s\S]*"msg":"closed"/)
})

t.test('closes after SHUTDOWN_TIMEOUT_MS even when a handler never finishes, and says so', async (t) => {
  const logs = captureLogs()
  const server = await startServer(
    { PORT: '0', DATA_DIR: t.testdir(), B24_APP_TOKENS: 'tok', SHUTDOWN_TIMEOUT_MS: '50' },
    { destination: logs.stream, setup: (receiver) => receiver.onAny(() => new Promise(() => {})) },
  )
  t.equal((await post(server.url, 'tok')).status, 200)
  await server.close()
  t.match(logs.parsed().at(-1), { level: 40, msg: /^closed with handlers still running: their events stay in the inbox/, timeoutMs: 50 })
})

t.test('keeps a request id it is given, else makes one', async (t) => {
  const logs = captureLogs()
  const server = await startServer({ PORT: '0', DATA_DIR: t.testdir(), B24_APP_TOKENS: 'tok' }, { destination: logs.stream })
  t.teardown(server.close)
  await fetch(`${server.url}/webhook`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-request-id': 'abc-123' }, body: 'x' })
  await fetch(`${server.url}/webhook`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-request-id': 'no spaces allowed' }, body: 'x' })
  const requests = logs.parsed().filter((line) => line.msg === 'request')
  t.match(requests, [{ reqId: 'abc-123', statusCode: 415 }, { reqId: /^[0-9a-f-]{36}$/ }])
})

t.test('runs the example bot beside the handlers when EXAMPLE_BOT is on', async (t) => {
  const server = await startServer({ PORT: '0', DATA_DIR: t.testdir(), B24_APP_TOKENS: 'tok', EXAMPLE_BOT: 'true', LOG_LEVEL: 'silent' })
  t.teardown(server.close)
  const seen: unknown[] = []
  server.receiver.onError((error) => void seen.push(error))
  t.equal((await post(server.url, 'tok')).status, 200)
  // The sample's portal does not exist: the bot's answer fails, which proves it tried.
  await eventually(() => seen.length > 0, 10000)
  t.match(seen[0], { name: 'BitrixError' })
})

t.test('an unusable DATA_DIR: events get 503 and /ready says why, nothing is acknowledged', async (t) => {
  const parent = t.testdir({ data: 'a file where DATA_DIR should be' })
  const logs = captureLogs()
  const server = await startServer({ PORT: '0', DATA_DIR: join(parent, 'data'), B24_APP_TOKENS: 'tok' }, { destination: logs.stream })
  t.teardown(server.close)
  const response = await post(server.url, 'tok')
  t.equal(response.status, 503)
  t.match(await response.json(), { error: 'INBOX_UNAVAILABLE', message: /cannot open the inbox in DATA_DIR/ })
  const ready = await fetch(`${server.url}/ready`)
  t.equal(ready.status, 503)
  t.match(await ready.json(), { ready: false, reason: /cannot open the inbox in DATA_DIR/ })
  t.match(await (await fetch(`${server.url}/health`)).json(), { status: 'degraded', inbox: null })
  t.match(logs.parsed().find((line) => line.level === 50), { msg: /events are refused with 503 until it is fixed/ })
})

t.test('B24_SECRET_KEY: another key, or none, for what a key sealed stops the start with a clear error', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const key = 'ab'.repeat(32)
  const env = { PORT: '0', DATA_DIR: dataDir, B24_APP_TOKENS: 'tok' }
  const first = await startServer({ ...env, B24_SECRET_KEY: key }, { destination: captureLogs().stream })
  t.equal((await post(first.url, 'tok')).status, 200)
  await first.close()
  // Unset, the service would take the key it generates under DATA_DIR: not the one that sealed.
  const keyFile = join(dataDir, 'secret.key')
  await t.rejects(startServer(env, { destination: captureLogs().stream }), {
    name: 'ConfigError',
    message: `the key file ${keyFile} is not the key that sealed the credentials in this store: they were sealed under a key given in B24_SECRET_KEY, give it again`,
  })
  await t.rejects(startServer({ ...env, B24_SECRET_KEY: 'cd'.repeat(32) }, { destination: captureLogs().stream }), {
    name: 'ConfigError',
    message: 'B24_SECRET_KEY is not the key that sealed the credentials in this store: give the key they were sealed with',
  })
  const again = await startServer({ ...env, B24_SECRET_KEY: Buffer.from(key, 'hex').toString('base64') }, { destination: captureLogs().stream })
  t.equal((await post(again.url, 'tok')).status, 200, 'the same key, written in base64')
  await again.close()
})

t.test('DATABASE_URL: refused without B24_APP_TOKENS or B24_SECRET_KEY (each replica would make up its own)', async (t) => {
  const env = { PORT: '0', DATA_DIR: t.testdir(), DATABASE_URL: 'postgres://b24:hunter2@127.0.0.1:1/none' }
  await t.rejects(startServer({ ...env, B24_SECRET_KEY: 'ab'.repeat(32) }), { name: 'ConfigError', message: /^DATABASE_URL needs B24_APP_TOKENS/ })
  await t.rejects(startServer({ ...env, B24_APP_TOKENS: 'tok' }), { name: 'ConfigError', message: /^DATABASE_URL needs B24_SECRET_KEY, the same on every replica/ })
  t.notOk(existsSync(join(env.DATA_DIR, 'local-app-token')), 'no local token made up')
})

t.test('DATABASE_URL: the inbox is in PostgreSQL; an event is stored there, handled, and nothing is kept under DATA_DIR', async (t) => {
  const databaseUrl = await testDatabase(t)
  const dataDir = join(t.testdir(), 'data')
  const handled: string[] = []
  const logs = captureLogs()
  const env = { PORT: '0', DATA_DIR: dataDir, DATABASE_URL: databaseUrl, B24_APP_TOKENS: 'tok', B24_SECRET_KEY: 'ab'.repeat(32) }
  const server = await startServer(env, { destination: logs.stream, setup: (receiver) => receiver.on('ONIMBOTV2MESSAGEADD', async (event) => void handled.push(event.data.message.text)) })
  t.teardown(() => server.close())
  t.equal((await post(server.url, 'tok')).status, 200)
  t.equal((await post(server.url, 'other')).status, 401)
  await eventually(() => handled.length === 1)
  t.same(handled, ['hi'])
  // Handled, then completed: the depth falls once the outcome is committed.
  const health = async () => (await (await fetch(`${server.url}/health`)).json()) as { inbox: { depth: number } }
  await eventually(async () => (await health()).inbox.depth === 0)
  t.match(await health(), { status: 'ok', inbox: { depth: 0, deadLetters: 0 } })
  const [seen] = await adminQuery<{ count: number }>('SELECT count(*)::int AS count FROM b24_seen', [], databaseUrl)
  t.equal(seen?.count, 1, 'its dedup key is in PostgreSQL')
  t.notOk(existsSync(join(dataDir, 'inbox.db')), 'no embedded store')
  t.notOk(existsSync(join(dataDir, 'secret.key')), 'no generated key')
  t.notOk(logs.text().includes('hunter2') || logs.text().includes(databaseUrl), 'the URL is never logged')
})

t.test('DATABASE_URL in application mode: starts without B24_APP_TOKENS, making up no token', async (t) => {
  const databaseUrl = await testDatabase(t)
  const dataDir = join(t.testdir(), 'data')
  const env = { PORT: '0', DATA_DIR: dataDir, DATABASE_URL: databaseUrl, B24_SECRET_KEY: 'ab'.repeat(32), B24_CLIENT_ID: 'app.1', B24_CLIENT_SECRET: 'cl13nt-s3cr3t' }
  const server = await startServer(env, { destination: captureLogs().stream })
  t.teardown(() => server.close())
  t.equal((await post(server.url, 'c76f868e000000000000000000000000')).status, 401)
  t.notOk(existsSync(join(dataDir, 'local-app-token')), 'no local token made up')
})

t.test('application mode over HTTP: an install posted to /webhook is confirmed, its events are handled, a restart keeps it, portals lists it', async (t) => {
  const oauth = await new FakeOAuth().start()
  t.teardown(() => oauth.close())
  const dataDir = join(t.testdir(), 'data')
  const eventsFile = join(t.testdir(), 'events.jsonl')
  const env = { PORT: '0', DATA_DIR: dataDir, EVENTS_FILE: eventsFile, EXAMPLE_BOT: 'true', B24_CLIENT_ID: oauth.clientId, B24_CLIENT_SECRET: oauth.clientSecret, B24_OAUTH_URL: oauth.url }
  const logs = captureLogs()
  const postBody = (url: string, body: string) => fetch(`${url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
  const portal = oauth.install()
  const first = await startServer(env, { destination: logs.stream })
  t.equal((await postBody(first.url, oauth.installBody(portal))).status, 200)
  t.equal((await postBody(first.url, oauth.installBody(oauth.install({ clientId: 'app.another.1' })))).status, 401, 'another application’s install')
  await first.close()
  const second = await startServer(env, { destination: logs.stream })
  t.teardown(second.close)
  t.equal((await postBody(second.url, oauth.eventBody(portal))).status, 200, 'accepted after a restart, no token configured')
  await eventually(() => oauth.calls.some((call) => call.method === 'imbot.v2.Chat.Message.send'), 10000)
  await eventually(async () => (await readFile(eventsFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).length === 2, 10000)
  const types = (await readFile(eventsFile, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line).event.type)
  t.same(types, ['ONAPPINSTALL', 'ONIMBOTV2MESSAGEADD'])
  const health = (await (await fetch(`${second.url}/health`)).json()) as { app: unknown }
  t.match(health.app, { portals: { active: 1, pending: 0 }, needReinstall: [], error: null })
  const listed = await runCommand(['portals', 'list', '--json'], { env: { DATA_DIR: dataDir } })
  t.same(JSON.parse(listed.out), { memberId: portal.memberId, domain: portal.domain, status: 'active', expiresAt: new Date(portal.expires * 1000).toISOString() })
  for (const secret of [portal.accessToken, portal.refreshToken, portal.applicationToken, oauth.clientSecret]) {
    t.notOk(logs.text().includes(secret), 'no secret in the log')
    t.notOk((await readFile(eventsFile, 'utf8')).includes(secret), 'no secret in EVENTS_FILE')
  }
})

t.test('closes connections that stall over their headers or their body, or sit idle after a response (HTTP_*_TIMEOUT_MS)', async (t) => {
  const env = { PORT: '0', DATA_DIR: join(t.testdir(), 'data'), LOG_LEVEL: 'silent', HTTP_HEADERS_TIMEOUT_MS: '200', HTTP_REQUEST_TIMEOUT_MS: '400', HTTP_KEEP_ALIVE_TIMEOUT_MS: '200' }
  const server = await startServer(env)
  t.teardown(server.close)
  const { hostname, port } = new URL(server.url)
  // What a socket received until the server closed it; a failure well past the timeouts set
  // (Node's own are 60 s, 300 s and Fastify's 72 s).
  const untilClosed = async (text: string) => {
    const socket = connect(Number(port), hostname)
    socket.setEncoding('utf8')
    let received = ''
    socket.on('data', (chunk: string) => (received += chunk))
    socket.write(text)
    const timer = setTimeout(() => socket.destroy(new Error('still open after 10 s')), 10_000)
    await once(socket, 'close')
    clearTimeout(timer)
    t.ok(socket.errored === null, 'closed by the server')
    return received
  }
  const [headers, body, idle] = await Promise.all([
    untilClosed('POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'),
    untilClosed('POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"event":'),
    untilClosed('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'),
  ])
  t.match(headers, /^HTTP\/1\.1 408/, 'headers never finished')
  t.match(body, /^HTTP\/1\.1 408/, 'a body never finished')
  t.match(idle, /^HTTP\/1\.1 200/, 'answered, then closed when idle')
})

t.test('DATABASE_URL: a database dropped and created again is migrated afresh, without a restart', async (t) => {
  const databaseUrl = await testDatabase(t)
  const name = new URL(databaseUrl).pathname.slice(1)
  const env = { PORT: '0', DATA_DIR: join(t.testdir(), 'data'), DATABASE_URL: databaseUrl, B24_APP_TOKENS: 'tok', B24_SECRET_KEY: 'ab'.repeat(32), LOG_LEVEL: 'silent' }
  const server = await startServer(env)
  t.teardown(() => server.close())
  t.equal((await post(server.url, 'tok')).status, 200)
  await adminQuery(`DROP DATABASE ${name} WITH (FORCE)`)
  await adminQuery(`CREATE DATABASE ${name}`)
  // The first call to find no schema fails (503) and says so; the next one migrates.
  await eventually(async () => (await post(server.url, 'tok')).status === 200, 10_000)
  t.equal((await fetch(`${server.url}/ready`)).status, 200)
  const tables = await adminQuery<{ count: number }>("SELECT count(*)::int AS count FROM information_schema.tables WHERE table_name = 'b24_inbox'", [], databaseUrl)
  t.equal(tables[0]?.count, 1, 'the schema is back')
})

t.test('DATA_DIR removed while running: noticed, events get 503, /ready says why, and the log says so', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const logs = captureLogs()
  const server = await startServer({ PORT: '0', DATA_DIR: dataDir, B24_APP_TOKENS: 'tok' }, { destination: logs.stream })
  t.teardown(server.close)
  t.equal((await post(server.url, 'tok')).status, 200)
  // Retried: the running store may write a file into it (its WAL) between the emptying and the rmdir.
  rmSync(dataDir, { recursive: true, maxRetries: 10, retryDelay: 10 })
  await eventually(async () => (await fetch(`${server.url}/ready`)).status === 503, 10_000)
  t.match(await (await fetch(`${server.url}/ready`)).json(), { ready: false, reason: /DATA_DIR .* was removed/ })
  const response = await post(server.url, 'tok')
  t.equal(response.status, 503, 'nothing is acknowledged into a removed file')
  t.match(await response.json(), { error: 'INBOX_UNAVAILABLE', message: /DATA_DIR .* was removed/ })
  t.match(logs.parsed().filter((line) => line.level === 50 && /was removed/.test(String(line.msg))), [{ msg: /restart/ }], 'said once')
})
