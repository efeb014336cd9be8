import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { BitrixError } from '../../src/bitrix/bitrix-error.ts'
import { Pacer } from '../../src/bitrix/pacer.ts'
import { RestClient } from '../../src/bitrix/rest-client.ts'
import { oauthTarget, webhookTarget } from '../../src/bitrix/rest-target.ts'
import { createLogger } from '../../src/log/create-logger.ts'
import type { Wait } from '../../src/wait.ts'
import { ManualClock } from '../fakes/manual-clock.ts'
import { captureLogs, eventually } from '../helpers.ts'

const SECRET = 'k8s9e2cr3t0000000'
const ACCESS_TOKEN = 'a0c3ss-t0k3n-0000000'

/** A portal whose answer each test sets; it records what it was asked. */
async function portal(t: Test) {
  const seen: Array<{ url: string; body: Record<string, unknown> }> = []
  let answer = (_request: IncomingMessage, response: ServerResponse) => void response.end(JSON.stringify({ result: true }))
  const server = createServer((request, response) => {
    let text = ''
    request.on('data', (chunk: Buffer) => (text += chunk.toString()))
    request.on('end', () => {
      seen.push({ url: request.url as string, body: JSON.parse(text) })
      answer(request, response)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const { port } = server.address() as AddressInfo
  const base = `http://127.0.0.1:${port}`
  return {
    seen,
    answer: (fn: typeof answer) => void (answer = fn),
    json: (status: number, body: unknown) => (answer = (_q, response) => void response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))),
    /** From now on no answer at all: resolves with the held response once a request has arrived. */
    hold: () =>
      new Promise<ServerResponse>((resolve) => {
        answer = (_q, response) => void resolve(response)
      }),
    webhook: webhookTarget(`${base}/rest/7/${SECRET}/`),
    oauth: oauthTarget({ client_endpoint: `${base}/rest/`, access_token: ACCESS_TOKEN }) as NonNullable<ReturnType<typeof oauthTarget>>,
  }
}

t.test('returns the result of a call through an inbound webhook, params as JSON', async (t) => {
  const p = await portal(t)
  p.json(200, { result: { events: [], nextOffset: 5, hasMore: false }, time: { duration: 0.1 } })
  const client = new RestClient(p.webhook, { timeoutMs: 10_000 })
  t.equal(client.target, p.webhook)
  t.same(await client.call('im.v2.Event.get', { offset: 4, limit: 10 }), { events: [], nextOffset: 5, hasMore: false })
  t.same(p.seen, [{ url: `/rest/7/${SECRET}/im.v2.Event.get`, body: { offset: 4, limit: 10 } }])
})

t.test('sends the OAuth access token as auth', async (t) => {
  const p = await portal(t)
  await new RestClient(p.oauth, { timeoutMs: 10_000 }).call('imbot.v2.Chat.Message.send', { botId: 1 })
  t.same(p.seen, [{ url: '/rest/imbot.v2.Chat.Message.send', body: { botId: 1, auth: ACCESS_TOKEN } }])
})

t.test('maps {error, error_description} to a BitrixError with the code and the HTTP status', async (t) => {
  const p = await portal(t)
  p.json(400, { error: 'BOT_NOT_FOUND', error_description: 'Bot not found' })
  const error = await new RestClient(p.webhook, { timeoutMs: 10_000 }).call('imbot.v2.Event.get', { botId: 9 }).catch((e: unknown) => e)
  t.ok(error instanceof BitrixError)
  t.match(error, { code: 'BOT_NOT_FOUND', status: 400, description: 'Bot not found', method: 'imbot.v2.Event.get', message: 'imbot.v2.Event.get: BOT_NOT_FOUND (HTTP 400): Bot not found', fatal: true, transient: false })
})

t.test('a fatal code is fatal whatever the HTTP status; a transient one on a 401 is not', async (t) => {
  const p = await portal(t)
  const client = new RestClient(p.webhook, { timeoutMs: 10_000 })
  p.json(500, { error: 'BOT_OWNERSHIP_ERROR', error_description: 'Not your bot' })
  await t.rejects(client.call('imbot.v2.Event.get'), { code: 'BOT_OWNERSHIP_ERROR', status: 500, fatal: true, transient: false })
  p.json(503, { error: 'INVALID_CREDENTIALS' })
  await t.rejects(client.call('imbot.v2.Event.get'), { code: 'INVALID_CREDENTIALS', fatal: true, transient: false })
  p.json(401, { error: 'QUERY_LIMIT_EXCEEDED' })
  await t.rejects(client.call('imbot.v2.Event.get'), { code: 'QUERY_LIMIT_EXCEEDED', status: 401, fatal: false, transient: true })
})

t.test('an error envelope wins even with HTTP 200; no description is fine', async (t) => {
  const p = await portal(t)
  p.json(200, { error: 'SENDING_FAILED' })
  await t.rejects(new RestClient(p.webhook, { timeoutMs: 10_000 }).call('imbot.v2.Chat.Message.send'), { code: 'SENDING_FAILED', message: 'imbot.v2.Chat.Message.send: SENDING_FAILED (HTTP 200)', fatal: false, transient: false })
})

t.test('recognizes rate limits: HTTP 429 with or without a body, QUERY_LIMIT_EXCEEDED', async (t) => {
  const p = await portal(t)
  const client = new RestClient(p.webhook, { timeoutMs: 10_000 })
  p.answer((_q, response) => void response.writeHead(429).end('Too Many Requests'))
  await t.rejects(client.call('im.v2.Event.get'), { code: 'QUERY_LIMIT_EXCEEDED', status: 429, rateLimited: true, transient: true, fatal: false })
  p.json(503, { error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' })
  await t.rejects(client.call('im.v2.Event.get'), { code: 'QUERY_LIMIT_EXCEEDED', status: 503, rateLimited: true, transient: true })
  p.json(429, { error: 'OPERATION_TIME_LIMIT' })
  await t.rejects(client.call('im.v2.Event.get'), { code: 'OPERATION_TIME_LIMIT', rateLimited: true, transient: true })
})

t.test('an HTTP error without an envelope, or an answer without result, is an error too', async (t) => {
  const p = await portal(t)
  const client = new RestClient(p.webhook, { timeoutMs: 10_000 })
  p.answer((_q, response) => void response.writeHead(502).end('<html>Bad Gateway</html>'))
  await t.rejects(client.call('im.v2.Event.get'), { code: 'HTTP_502', status: 502, transient: true, rateLimited: false })
  p.json(200, [1, 2])
  await t.rejects(client.call('im.v2.Event.get'), { code: 'ERROR_UNEXPECTED_ANSWER', status: 200, transient: true })
  p.json(401, { no: 'envelope' })
  await t.rejects(client.call('im.v2.Event.get'), { code: 'HTTP_401', status: 401, fatal: true, transient: false })
  p.json(200, { time: {} })
  await t.rejects(client.call('im.v2.Event.get'), { code: 'ERROR_UNEXPECTED_ANSWER', description: 'the answer has no result' })
})

t.test('times out, and a refused connection is a NETWORK_ERROR; neither names the URL', async (t) => {
  const p = await portal(t)
  // A real timeout, but one that cannot flake: the portal never answers, so the timeout is the
  // only way the call can end, whenever it fires (before or after the request got there).
  void p.hold()
  const error = (await new RestClient(p.webhook, { timeoutMs: 50 }).call('im.v2.Event.get').catch((e: unknown) => e)) as BitrixError
  t.match(error, { code: 'TIMEOUT', status: null, transient: true, message: 'im.v2.Event.get: TIMEOUT: no answer within 50 ms' })
  const gone = createServer()
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve))
  const { port } = gone.address() as AddressInfo
  await new Promise((resolve) => gone.close(resolve))
  const closed = webhookTarget(`http://127.0.0.1:${port}/rest/7/${SECRET}/`)
  const refused = (await new RestClient(closed, { timeoutMs: 10_000 }).call('im.v2.Event.get').catch((e: unknown) => e)) as BitrixError
  t.match(refused, { code: 'NETWORK_ERROR', status: null, transient: true, description: 'ECONNREFUSED' })
  t.notMatch(refused.message + error.message, SECRET)
  // fetch refuses some ports itself, with an error that has no code
  const badPort = (await new RestClient(webhookTarget(`http://127.0.0.1:1/rest/7/${SECRET}/`), { timeoutMs: 10_000 }).call('im.v2.Event.get').catch((e: unknown) => e)) as BitrixError
  t.match(badPort, { code: 'NETWORK_ERROR', description: 'the connection failed' })
})

t.test('a caller abort rejects with its reason, while the call waits for its answer or before it is sent', async (t) => {
  const p = await portal(t)
  const held = p.hold()
  const abort = new AbortController()
  // A timeout far beyond the test: only the abort can end the call.
  const client = new RestClient(p.webhook, { timeoutMs: 600_000 })
  const call = client.call('im.v2.Event.get', {}, { signal: abort.signal })
  await held
  abort.abort(new Error('stopping'))
  await t.rejects(call, { message: 'stopping' })
  const before = new AbortController()
  before.abort(new Error('stopped already'))
  await t.rejects(client.call('im.v2.Event.get', {}, { signal: before.signal }), { message: 'stopped already' })
  t.equal(p.seen.length, 1, 'an aborted signal sends nothing')
})

t.test('refuses anything but a method name in the URL path', async (t) => {
  const p = await portal(t)
  const client = new RestClient(p.webhook, { timeoutMs: 10_000 })
  for (const bad of ['../../x', 'im.v2.Event.get?x=1', '', 'a..b', 'im/v2']) {
    await t.rejects(client.call(bad), { code: 'INVALID_METHOD' }, bad)
  }
  t.same(p.seen, [], 'nothing sent')
})

t.test('logs one debug line per call with method, status and target host; never the secret or token', async (t) => {
  const p = await portal(t)
  const logs = captureLogs()
  const logger = createLogger({ level: 'debug' }, logs.stream)
  await new RestClient(p.webhook, { timeoutMs: 10_000, logger }).call('im.v2.Event.subscribe')
  p.json(401, { error: 'expired_token', error_description: 'The access token provided has expired' })
  await new RestClient(p.oauth, { timeoutMs: 10_000, logger }).call('im.v2.Event.get').catch(() => undefined)
  const lines = logs.parsed()
  t.match(lines, [
    { msg: 'bitrix24 call', method: 'im.v2.Event.subscribe', status: 200, target: 'webhook 127.0.0.1' },
    { msg: 'bitrix24 call', method: 'im.v2.Event.get', status: 401, error: 'expired_token', target: 'oauth 127.0.0.1' },
  ])
  t.notMatch(logs.text(), SECRET)
  t.notMatch(logs.text(), ACCESS_TOKEN)
})

/** A pacer whose waits last milliseconds: a bucket of 2 calls that drains 1000 a second, holds of 5 ms. */
const quickPacer = (counted: string[] = []) =>
  new Pacer({
    rates: { rate: { drainPerSecond: 1000, threshold: 4 }, portals: {} },
    holdBaseMs: 5,
    observe: { called: (method, outcome) => void counted.push(`${method} ${outcome}`), limited: () => undefined, waited: () => undefined },
  })

t.test('paced: a call the portal refused for its bucket or its operating time waits and is sent again, as often as it takes', async (t) => {
  const p = await portal(t)
  const counted: string[] = []
  const logs = captureLogs()
  const client = new RestClient(p.webhook, { timeoutMs: 10_000, pacer: quickPacer(counted), logger: createLogger({ level: 'debug' }, logs.stream) })
  const answers = [
    (_q: IncomingMessage, response: ServerResponse) => void response.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'QUERY_LIMIT_EXCEEDED', error_description: 'Too many requests' })),
    (_q: IncomingMessage, response: ServerResponse) => void response.writeHead(429).end('Too Many Requests'),
    (_q: IncomingMessage, response: ServerResponse) => void response.writeHead(429, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'OPERATION_TIME_LIMIT', error_description: 'Method is blocked', time: { operating: 500 } })),
    (_q: IncomingMessage, response: ServerResponse) => void response.end(JSON.stringify({ result: { id: 7 }, time: { operating: 1, operating_reset_at: Date.now() / 1000 + 600 } })),
  ]
  p.answer((request, response) => (answers.shift() as (typeof answers)[number])(request, response))
  t.same(await client.call('imbot.v2.Chat.Message.send', { botId: 1, text: 'hi' }), { id: 7 })
  t.equal(p.seen.length, 4, 'sent four times: none of the refused ones was executed')
  t.same(new Set(p.seen.map((seen) => JSON.stringify(seen.body))), new Set([JSON.stringify({ botId: 1, text: 'hi' })]), 'the same call each time')
  t.same(counted, ['imbot.v2.Chat.Message.send limited', 'imbot.v2.Chat.Message.send limited', 'imbot.v2.Chat.Message.send limited', 'imbot.v2.Chat.Message.send ok'])
  t.match(logs.parsed().filter((line) => line.msg !== 'bitrix24 call'), [
    { msg: 'bitrix24 call limited: sent again once there is room', error: 'QUERY_LIMIT_EXCEEDED', target: 'webhook 127.0.0.1' },
    { error: 'QUERY_LIMIT_EXCEEDED' },
    { error: 'OPERATION_TIME_LIMIT' },
  ])
})

t.test('paced: a timeout, a dropped connection or any other error is not sent again', async (t) => {
  const p = await portal(t)
  const counted: string[] = []
  const pacer = quickPacer(counted)
  p.json(200, { error: 'SENDING_FAILED' })
  await t.rejects(new RestClient(p.webhook, { timeoutMs: 10_000, pacer }).call('imbot.v2.Chat.Message.send'), { code: 'SENDING_FAILED' })
  void p.hold()
  await t.rejects(new RestClient(p.webhook, { timeoutMs: 50, pacer }).call('imbot.v2.Chat.Message.send'), { code: 'TIMEOUT' })
  t.equal(p.seen.length, 2, 'each sent once')
  p.json(200, { time: {} })
  await t.rejects(new RestClient(p.webhook, { timeoutMs: 10_000, pacer }).call('imbot.v2.Chat.Message.send'), { code: 'ERROR_UNEXPECTED_ANSWER' })
  t.same(counted, ['imbot.v2.Chat.Message.send error', 'imbot.v2.Chat.Message.send transient', 'imbot.v2.Chat.Message.send transient'])
})

t.test('paced: a call waits for room in its portal’s bucket through `wait`, and its signal ends the wait', async (t) => {
  const p = await portal(t)
  const clock = new ManualClock()
  const pacer = new Pacer({ clock, rates: { rate: { drainPerSecond: 1, threshold: 3 }, portals: {} } })
  const client = new RestClient(p.webhook, { timeoutMs: 10_000, pacer })
  let waits = 0
  const wait: Wait = (waiting) => {
    waits++
    return waiting
  }
  await client.call('im.v2.Event.get', {}, { wait })
  t.equal(waits, 1)
  const abort = new AbortController()
  const waiting = client.call('im.v2.Event.get', {}, { wait, signal: abort.signal })
  // Its deadline, and the bucket's next slot: the bucket was asked and has no room.
  await eventually(() => clock.timers === 2)
  abort.abort(new Error('attempt abandoned'))
  await t.rejects(waiting, { message: 'attempt abandoned' })
  t.equal(clock.timers, 1)
  const later = client.call('im.v2.Event.get', {}, { wait })
  t.equal(clock.timers, 2, 'in line for that slot')
  t.equal(p.seen.length, 1, 'nothing sent while the bucket has no room')
  clock.advance(1000)
  await later
  t.equal(p.seen.length, 2)
  t.equal(waits, 3)
})
