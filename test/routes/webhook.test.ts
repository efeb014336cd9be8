import Fastify from 'fastify'
import t from 'tap'
import { replayDeadLetter } from '../../src/worker/replay-dead-letter.ts'
import { b24Receiver } from '../../src/plugin.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { expectedEvent } from '../fixtures/expected-event.ts'
import { APP_TOKEN, asJson, bitrixCases, eventually, readFixture, startTestApp } from '../helpers.ts'

const SECRET_FIELDS = /"(?:access_token|refresh_token|application_token)":\s*"([^"]+)"/g
const secretsOf = (text: string) => [...new Set([...text.matchAll(SECRET_FIELDS)].map((match) => match[1] as string))]
const withToken = (name: string, token: string | null) => {
  const payload = JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as { auth: Record<string, unknown> }
  if (token === null) delete payload.auth.application_token
  else payload.auth.application_token = token
  return encodeForm(payload as unknown as PhpValue)
}

t.test('every real Bitrix24 body POSTed over HTTP reaches a handler typed per the contract', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const decodable = bitrixCases().filter((name) => name !== 'variant_empty_and_null')
  for (const name of decodable) {
    const response = await server.post(withToken(name, APP_TOKEN))
    t.equal(response.status, 200, name)
    t.same(await response.json(), { ok: true })
  }
  await eventually(() => server.handled.length === decodable.length)
  t.same(
    asJson(server.handled),
    decodable.map((name) => expectedEvent(name)),
  )
  const response = await server.post(readFixture('bitrix/imbot_v2_message_add_webhook.payload.json').replaceAll('831c76b092f9f135d9b6b36c3a720757', APP_TOKEN), 'application/json')
  t.equal(response.status, 200, 'JSON bodies too')
})

t.test('refuses missing, empty and wrong tokens with 401, and a token hidden in data[bot][auth]', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const cases: Array<[string, string, string]> = [
    ['wrong', withToken('imbot_v2_message_add_webhook', 'f'.repeat(32)), 'INVALID_TOKEN'],
    ['one character off', withToken('imbot_v2_message_add_webhook', APP_TOKEN.slice(0, -1) + '1'), 'INVALID_TOKEN'],
    ['missing', withToken('imbot_v2_message_add_webhook', null), 'MISSING_TOKEN'],
    ['empty', withToken('imbot_v2_message_add_webhook', ''), 'MISSING_TOKEN'],
    ['only in data[bot][auth]', readFixture('bitrix/imbot_v2_message_add_webhook.body.txt').replace(/&auth%5B.*$/, '').replace('831c76b092f9f135d9b6b36c3a720757', APP_TOKEN), 'MISSING_TOKEN'],
  ]
  for (const [what, body, code] of cases) {
    const response = await server.post(body)
    t.equal(response.status, 401, what)
    const reply = (await response.json()) as { error: string; message: string }
    t.equal(reply.error, code, what)
    t.notOk(JSON.stringify(reply).includes(APP_TOKEN), 'no token in the reply')
  }
  const json = await server.post('{"event": "X", "ts": 1, "data": {"bot": {"auth": {"application_token": "' + APP_TOKEN + '"}}}}', 'application/json')
  t.equal(json.status, 401)
  // What cannot be read is not a wrong token: 400, before the token check.
  t.match(await (await server.post('event=ONIMV2MESSAGEADD&ts=1&auth=' + APP_TOKEN)).json(), { error: 'MALFORMED_BODY', message: 'auth[application_token] cannot be read' })
  t.match(await (await server.post('')).json(), { error: 'NOT_AN_EVENT', message: 'not a Bitrix24 event: the event type cannot be read' })
  t.same(server.store?.rows, [], 'nothing stored')
  const refusals = server.logs.parsed().filter((line) => line.level === 40 && String(line.msg).startsWith('refused an event'))
  t.match(refusals, [{ code: 'INVALID_TOKEN', portal: { domain: 'some-domain.bitrix24.com' }, msg: /with 401 \(INVALID_TOKEN\): B24_APP_TOKENS/ }], 'an operator is told which portal was refused, once a minute')
  t.notOk(server.logs.text().includes('f'.repeat(32)), 'never the token it was sent')
})

t.test('pins a token to its portal', async (t) => {
  const server = await startTestApp({ tokens: [`61fe44d3770c22e3fab7bff06b17e7e3:${APP_TOKEN}`] })
  t.teardown(server.close)
  t.equal((await server.post(readFixture('bitrix/capture_imbot_v2_message_add_2026_09_16.body.txt'))).status, 200, 'its portal')
  t.equal((await server.post(withToken('imbot_v2_message_add_webhook', APP_TOKEN))).status, 401, 'another portal')
})

t.test('answers bad input with a precise status and message, never a 500', async (t) => {
  const server = await startTestApp({ bodyLimit: 8192 })
  t.teardown(server.close)
  const auth = `auth%5Bapplication_token%5D=${APP_TOKEN}`
  const cases: Array<[string, string, string, number, string]> = [
    ['text/plain', 'event=X', 'text/plain', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['xml', '<event/>', 'application/xml', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['too large', `${auth}&x=${'a'.repeat(9000)}`, 'application/x-www-form-urlencoded', 413, 'BODY_TOO_LARGE'],
    ['no content type', 'event=X', '', 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['broken JSON', '{"event": ', 'application/json', 400, 'MALFORMED_BODY'],
    ['empty JSON', '', 'application/json; charset=utf-8', 400, 'MALFORMED_BODY'],
    ['JSON list', '[1, 2]', 'application/json', 400, 'NOT_AN_EVENT'],
    ['no event name', `${auth}&ts=1`, 'application/x-www-form-urlencoded', 400, 'NOT_AN_EVENT'],
    ['JSON __proto__', `{"__proto__": {"polluted": 1}, "auth": {"application_token": "${APP_TOKEN}"}}`, 'application/json', 400, 'NOT_AN_EVENT'],
    ['JSON constructor', `{"constructor": {"prototype": {"polluted": 1}}, "auth": {"application_token": "${APP_TOKEN}"}}`, 'application/json', 400, 'NOT_AN_EVENT'],
  ]
  for (const [what, body, type, status, code] of cases) {
    const response = await server.post(body, type)
    t.equal(response.status, status, what)
    const reply = (await response.json()) as { error: string }
    t.match(reply, { error: code, message: String }, what)
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.same(server.store?.rows, [], 'a body with no event type is refused before anything is stored')
})

t.test('__proto__ and constructor keys in a form never pollute and never 500', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const hostile = `${withToken('im_v2_message_add', APP_TOKEN)}&__proto__%5Bpolluted%5D=1&data%5B__proto__%5D%5Bpolluted%5D=1&data%5Bmessage%5D%5Bconstructor%5D%5Bprototype%5D%5Bpolluted%5D=1&data%5Bmessage%5D%5Bparams%5D%5B__proto__%5D=x`
  const response = await server.post(hostile)
  t.equal(response.status, 200)
  await eventually(() => server.handled.length === 1)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  const [event] = server.handled as unknown as Array<{ data: { message: Record<string, unknown> } }>
  t.equal(Object.getPrototypeOf(event?.data.message), Object.prototype)
  t.same(asJson(event?.data.message.constructor), { prototype: { polluted: '1' } }, 'kept as data')
})

t.test('an authenticated event that fails its schema is accepted, kept in the dead letter with its wire, fixed and replayed', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const body = withToken('im_v2_message_add', APP_TOKEN).replace('data%5Bmessage%5D%5Bid%5D=5012', 'data%5Bmessage%5D%5Bid%5D=abc')
  const response = await server.post(body)
  t.equal(response.status, 200, 'Bitrix24 never resends: refusing it would lose it')
  t.same(await response.json(), { ok: true })
  await eventually(() => server.store!.inStatus('dead').length === 1)
  const [kept] = await server.store!.deadLetters.list()
  t.match(kept, { type: 'ONIMV2MESSAGEADD', bodyKind: 'form', portal: { domain: 'some-domain.bitrix24.com' }, error: 'ONIMV2MESSAGEADD does not match its schema: /data/message/id: must be integer' })
  t.match(kept?.body, /data%5Bmessage%5D%5Bid%5D=abc/, 'the wire as it came')
  t.notOk(JSON.stringify(kept).includes(APP_TOKEN), 'minus its credentials')
  const warning = server.logs.parsed().find((line) => line.level === 40 && /does not decode/.test(String(line.msg)))
  t.match(warning, { type: 'ONIMV2MESSAGEADD', reason: /\/data\/message\/id: must be integer/ })
  t.notOk(JSON.stringify(warning).includes('abc'), 'the warning names paths, never values')
  t.match(await server.receiver.health(), { events: { accepted: 1, rejected: 1 }, inbox: { deadLetters: 1 } })
  t.same(server.handled, [])
  // A fixed decoder, here a fixed wire: the replay decodes what is stored, exactly.
  const row = server.store!.inStatus('dead')[0]!
  row.body = row.body.replace('data%5Bmessage%5D%5Bid%5D=abc', 'data%5Bmessage%5D%5Bid%5D=5012')
  t.same(await replayDeadLetter(server.store!, row.id), { id: row.id, replayed: true })
  await eventually(() => server.handled.length === 1)
  t.match(server.handled[0], { type: 'ONIMV2MESSAGEADD', data: { message: { id: 5012 } } })
})

t.test('no token string appears in any log line or reply', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const secrets = new Set<string>()
  for (const name of bitrixCases()) {
    for (const secret of secretsOf(readFixture(`bitrix/${name}.payload.json`))) secrets.add(secret)
    const replies = [await server.post(withToken(name, APP_TOKEN)), await server.post(withToken(name, 'wrong-' + name)), await server.post(readFixture(`bitrix/${name}.payload.json`), 'application/json')]
    for (const reply of replies) {
      const text = await reply.text()
      for (const secret of [...secrets, APP_TOKEN]) t.notOk(text.includes(secret))
    }
  }
  await eventually(() => server.handled.length === bitrixCases().length - 1)
  const logs = server.logs.text()
  t.ok(server.logs.lines.length > 60)
  for (const secret of [...secrets, APP_TOKEN]) t.notOk(logs.includes(secret), `${secret.slice(0, 6)}… is not logged`)
})

t.test('a double delivery is stored and handled once, and counted', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const body = withToken('im_v2_message_add', APP_TOKEN)
  t.equal((await server.post(body)).status, 200)
  t.equal((await server.post(body)).status, 200, 'acknowledged again: it is stored')
  const edited = body.replace('data%5Bmessage%5D%5Btext%5D=', 'data%5Bmessage%5D%5Btext%5D=edited+')
  t.equal((await server.post(edited)).status, 200)
  await eventually(() => server.handled.length === 2 && server.store!.inStatus('pending').length === 0)
  t.match(await server.receiver.health(), { events: { accepted: 3, duplicates: 1 } })
  t.same(
    server.handled.map((event) => (event.data as { message: { text: string } }).message.text),
    [(server.handled[0]!.data as { message: { text: string } }).message.text, `edited ${(server.handled[0]!.data as { message: { text: string } }).message.text}`],
    'the first delivery and the edit, in order',
  )
})

t.test('logs one JSON line per webhook request, with what refused it', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  await server.inject({ method: 'POST', url: '/webhook', headers: { 'content-type': 'text/plain' }, payload: 'x' })
  await server.post(withToken('im_v2_message_add', APP_TOKEN))
  await server.inject({ method: 'GET', url: '/health' })
  await server.inject({ method: 'POST', url: '/webhook?auth%5Bapplication_token%5D=querytoken0123456789abcdef&x=1', headers: { 'content-type': 'text/plain' }, payload: 'x' })
  const requests = server.logs.parsed().filter((line) => line.msg === 'request')
  t.equal(requests.length, 3, 'webhook requests only')
  t.match(requests[2], { statusCode: 415 })
  t.equal(requests[2]?.url, '/webhook', 'the path only, not the query string')
  t.notOk(JSON.stringify(requests).includes('querytoken'), 'a token in the query string is not logged')
  t.match(requests[0], { method: 'POST', url: '/webhook', statusCode: 415, error: 'UNSUPPORTED_MEDIA_TYPE', ms: Number })
  t.match(requests[1], { statusCode: 200 })
  t.notOk('error' in (requests[1] as object))
})

t.test("Fastify's own refusals answer in the receiver's codes", async (t) => {
  const server = await startTestApp({ bodyLimit: 2048 })
  t.teardown(server.close)
  const large = await server.inject({ method: 'POST', url: '/webhook', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '5000' }, payload: 'a='.padEnd(5000, 'x') })
  t.equal(large.status, 413)
  t.same(await large.json(), { error: 'BODY_TOO_LARGE', message: 'the body is larger than the configured limit' })
  const short = await server.inject({ method: 'POST', url: '/webhook', headers: { 'content-type': 'application/json', 'content-length': '10' }, payload: '{}' })
  t.equal(short.status, 400)
  t.match(await short.json(), { error: 'MALFORMED_BODY' })
})

t.test('an internal failure is a 500 with no detail, logged', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  ;(server.store as NonNullable<typeof server.store>).append = async () => {
    throw new Error('disk full at /secret/path')
  }
  const response = await server.post(withToken('im_v2_message_add', APP_TOKEN))
  t.equal(response.status, 500)
  t.same(await response.json(), { error: 'INTERNAL', message: 'internal error' })
  t.match(server.logs.parsed().find((line) => line.msg === 'request failed'), { level: 50, err: { message: 'disk full at /secret/path' } })
})

t.test("errors of the app's own hooks on the webhook route answer in the receiver's shape", async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  const app = Fastify()
  app.addHook('onRequest', async (request) => {
    if (request.headers['x-refuse']) throw Object.assign(new Error('not from here'), { statusCode: Number(request.headers['x-refuse']) })
  })
  await app.register(b24Receiver, { receiver: server.receiver, path: '/hook' })
  t.teardown(() => app.close())
  const refused = await app.inject({ method: 'POST', url: '/hook', headers: { 'x-refuse': '403' } })
  t.equal(refused.statusCode, 403)
  t.same(refused.json(), { error: 'BAD_REQUEST', message: 'the request is not valid' })
  const broken = await app.inject({ method: 'POST', url: '/hook', headers: { 'x-refuse': '500' } })
  t.equal(broken.statusCode, 500)
  t.same(broken.json(), { error: 'INTERNAL', message: 'internal error' })
  const empty = await app.inject({ method: 'POST', url: '/hook' })
  t.equal(empty.statusCode, 415, 'no body and no content type')
})

t.test('a JSON body nested past any depth: 200, stored and dead-lettered with a valid token, 401 with a wrong one, never 500', async (t) => {
  const server = await startTestApp({ bodyLimit: 2_000_000 })
  t.teardown(server.close)
  const nested = (depth: number, token: string) =>
    `{"event":"ONIMV2MESSAGEADD","ts":"1","auth":{"application_token":"${token}","domain":"x.bitrix24.com","member_id":"m"},"data":{"n":null,"list":[1,2],"deep":${'['.repeat(depth)}${']'.repeat(depth)}}}`
  const valid = await server.post(nested(10_000, APP_TOKEN), 'application/json')
  t.equal(valid.status, 200, 'Bitrix24 never resends: an authenticated body is kept')
  await eventually(() => server.store!.inStatus('dead').length === 1)
  const [kept] = await server.store!.deadLetters.list()
  t.match(kept, { type: 'ONIMV2MESSAGEADD', bodyKind: 'payload', error: /nests deeper than 64 levels/ })
  const stored = server.store!.inStatus('dead')[0]!.body
  t.notOk(stored.includes(APP_TOKEN), 'stored minus its credentials')
  t.ok(stored.includes(`"list":[1,2],"deep":${'['.repeat(10_000)}`), 'the wire as it came')
  const wrong = await server.post(nested(500_000, 'f'.repeat(32)), 'application/json')
  t.equal(wrong.status, 401)
  t.match(await wrong.json(), { error: 'INVALID_TOKEN', message: String })
  t.notOk(server.logs.parsed().some((line) => (line.level as number) >= 50), 'nothing logged as an error')
  t.same(server.handled, [])
})

t.test('a compressed body (Content-Encoding gzip, deflate) is a 415 that says so, counted as refused', async (t) => {
  const server = await startTestApp()
  t.teardown(server.close)
  for (const encoding of ['gzip', 'deflate', 'GZIP, identity']) {
    const response = await server.inject({ method: 'POST', url: '/webhook', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': encoding }, payload: withToken('im_v2_message_add', APP_TOKEN) })
    t.equal(response.status, 415, encoding)
    t.same(await response.json(), { error: 'UNSUPPORTED_MEDIA_TYPE', message: 'a compressed body (Content-Encoding) is not accepted: send it uncompressed' })
  }
  // Header values are case-insensitive tokens, with optional whitespace around them.
  for (const encoding of ['identity', ' Identity ']) {
    const plain = await server.inject({ method: 'POST', url: '/webhook', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': encoding }, payload: withToken('im_v2_message_add', APP_TOKEN) })
    t.equal(plain.status, 200, `${JSON.stringify(encoding)} is no compression`)
  }
  t.match(await server.receiver.health(), { events: { accepted: 2 } })
  t.match(await server.receiver.metrics(), /b24_events_accepted_total\{door="webhook",status="415"\} 3/)
})
