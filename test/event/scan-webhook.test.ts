import t from 'tap'
import fc from 'fast-check'
import { normalizeWebhook } from '../../src/event/normalize-webhook.ts'
import { chatOf, scanWebhook } from '../../src/event/scan-webhook.ts'
import { parseForm, type FormMap, type FormValue } from '../../src/wire/parse-form.ts'
import { bitrixCases, readFixture } from '../helpers.ts'

const UNBOUNDED = { maxPairs: Infinity, maxDepth: Infinity, maxKeyLength: Infinity }
const child = (value: FormValue | undefined, key: string) => (typeof value === 'object' ? value[key] : undefined)
const text = (value: FormValue | undefined) => (typeof value === 'string' ? value : undefined)

// The oracle, written from the contract on the full parse: what the door must read of a body.
function fromFullParse(form: FormMap) {
  const event = text(form.event)
  if (event === undefined || event.trim() === '') return { refused: 'NOT_AN_EVENT' }
  const auth = form.auth
  if (typeof auth === 'string' || typeof child(auth, 'application_token') === 'object') return { refused: 'MALFORMED_BODY' }
  const block = auth ?? child(child(form.data, 'bot'), 'auth')
  const chat = text(child(child(form.data, 'chat'), 'id')) ?? text(child(form.data, 'dialogId')) ?? null
  return { type: event.toUpperCase(), token: text(child(auth, 'application_token')), memberId: text(child(block, 'member_id')) ?? null, domain: text(child(block, 'domain')) ?? null, chat }
}

function fromScan(body: string) {
  try {
    const { type, credentials, chat } = scanWebhook(body, 'form')
    return { type, token: credentials.applicationToken, memberId: credentials.portal.memberId, domain: credentials.portal.domain, chat }
  } catch (error) {
    return { refused: (error as { code: string }).code }
  }
}

t.test('reads what the full decode reads, on every real body, and stores it without credentials', async (t) => {
  for (const name of bitrixCases()) {
    const body = readFixture(`bitrix/${name}.body.txt`)
    const scan = scanWebhook(body, 'form')
    t.same(fromScan(body), fromFullParse(parseForm(body)), name)
    t.equal(scan.bodyKind, 'form')
    if (name === 'variant_empty_and_null') continue // off its schema on purpose
    const inbound = normalizeWebhook(parseForm(body))
    t.equal(scan.type, inbound.event.type, `${name}: type`)
    t.same(scan.credentials.serialize(), inbound.delivery.credentials.serialize(), `${name}: credentials`)
    // The typed data names the same chat: both doors order alike.
    const data = inbound.event.data as { chat?: { id?: unknown }; dialogId?: unknown }
    const typed = data.chat?.id ?? data.dialogId
    t.equal(scan.chat, typed === undefined ? null : String(typed), `${name}: the chat the decoded event is about`)
    // The stored wire decodes to the same event, its credentials apart.
    t.same(normalizeWebhook(parseForm(scan.body), scan.credentials).event, inbound.event, `${name}: the wire kept decodes alike`)
    for (const secret of [scan.credentials.applicationToken, scan.credentials.auth?.access_token, scan.credentials.bot?.access_token]) {
      if (secret) t.notOk(scan.body.includes(secret), `${name}: no token kept`)
    }
  }
})

t.test('JSON: parsed whole, every credential cut at any depth', async (t) => {
  const payload = JSON.parse(readFixture('bitrix/imbot_v2_message_add_webhook.payload.json')) as Record<string, unknown>
  const scan = scanWebhook(JSON.stringify({ ...payload, extra: { access_token: 'hidden' } }), 'json')
  t.match(scan, { type: 'ONIMBOTV2MESSAGEADD', bodyKind: 'payload', chat: String((payload.data as { chat: { id: unknown } }).chat.id) })
  t.equal(scan.credentials.applicationToken, (payload.auth as { application_token: string }).application_token)
  t.notOk(/access_token|refresh_token|application_token|"auth"/.test(scan.body), 'nothing named like a credential is kept')
  t.same(normalizeWebhook(JSON.parse(scan.body) as Record<string, unknown>, scan.credentials).event, normalizeWebhook(payload).event)
  t.throws(() => scanWebhook('[1]', 'json'), { code: 'NOT_AN_EVENT' })
  t.throws(() => scanWebhook('{"event": 5}', 'json'), { code: 'NOT_AN_EVENT' })
  t.throws(() => scanWebhook('{"event": "  "}', 'json'), { code: 'NOT_AN_EVENT' })
  t.throws(() => scanWebhook('{"event": "X", "auth": {"application_token": 5}}', 'json'), { code: 'MALFORMED_BODY', message: 'auth[application_token] cannot be read' })
  t.throws(() => scanWebhook('{"event": "X", "auth": null}', 'json'), { code: 'MALFORMED_BODY' })
  t.equal(scanWebhook('{"event": "x", "data": {"chat": {"id": 5}}}', 'json').chat, '5', 'a number, as a polled event has it')
})

t.test('the chat: chat.id, else dialogId, as text; nothing else', async (t) => {
  t.equal(chatOf({ chat: { id: 7 }, dialogId: 'chat9' }), '7')
  t.equal(chatOf({ chat: { id: { x: 1 } }, dialogId: 'chat9' }), 'chat9')
  t.equal(chatOf({ chat: 'x', dialogId: 12 }), '12')
  t.equal(chatOf({ chat: null }), null)
  t.equal(chatOf('data'), null)
  t.equal(chatOf(null), null)
})

// Bodies made of the names the scan reads, spelled every way the parser reads alike, and garbage.
const base = fc.constantFrom('auth', 'event', 'data', 'data', 'data', 'x')
const segment = fc.constantFrom('bot', 'auth', 'application_token', 'member_id', 'domain', 'chat', 'id', 'dialogId', 'x', '0', '')
const bracket = fc.constantFrom(['[', ']'], ['%5B', '%5D'], ['[', ''])
const key = fc.tuple(base, fc.array(fc.tuple(segment, bracket), { maxLength: 3 }), fc.boolean()).map(
  ([name, rest, escaped]) => (escaped ? name.replace(/^./, (c) => `%${c.charCodeAt(0).toString(16)}`) : name) + rest.map(([s, [open, close]]) => open + s + close).join(''),
)
const value = fc.oneof(fc.constantFrom('', 'ONIMV2MESSAGEADD', 'tok', 'm1', 'chat5', '42', '%20', '+'), fc.string().map(encodeURIComponent))
const body = fc.array(fc.oneof(fc.tuple(key, value).map(([k, v]) => `${k}=${v}`), key), { maxLength: 14 }).map((pairs) => pairs.join('&'))
const garbage = fc.string({ unit: fc.constantFrom('[', ']', '%', '&', '=', '+', ' ', 'auth', 'event', 'data', 'chat', 'id', 'dialogId', 'bot', '%5B', '%5D', 'x') })

t.test('agrees with the full parse on random and garbage bodies, refusals included', async (t) => {
  fc.assert(
    fc.property(fc.oneof(body, garbage), (text) => {
      t.same(fromScan(text), fromFullParse(parseForm(text, UNBOUNDED)), text)
    }),
    { seed: 20261202, numRuns: 4000 },
  )
})

t.test('agrees with the full parse on the PHP oracle corpus', async (t) => {
  for (const { body } of JSON.parse(readFixture('php/parse-str.json')) as Array<{ body: string }>) {
    t.same(fromScan(body), fromFullParse(parseForm(body, UNBOUNDED)), body)
  }
})
