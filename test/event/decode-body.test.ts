import { inspect } from 'node:util'
import t from 'tap'
import { decodeBody } from '../../src/event/decode-body.ts'
import { EnvelopeError, EventValidationError, MalformedBodyError } from '../../src/errors.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { EventDataSchemas } from '../../schemas/event-data.ts'
import { expectedData } from '../fixtures/expected-data.ts'
import { expectedEvent } from '../fixtures/expected-event.ts'
import { wireContract, type Kind, type Shape } from '../fixtures/wire-contract.ts'
import { asJson, bitrixCases, readFixture } from '../helpers.ts'

const SECRET_FIELDS = /"(?:access_token|refresh_token|application_token)":\s*"([^"]+)"/g
const secretsOf = (text: string) => [...text.matchAll(SECRET_FIELDS)].map((match) => match[1] as string)
const decodable = bitrixCases().filter((name) => name !== 'variant_empty_and_null')

interface Payload {
  event_handler_id?: number | string
  auth?: Record<string, string>
  data?: { bot?: { auth?: Record<string, string> } }
}

t.test('decodes every real Bitrix24 body to what the contract makes of its payload', async (t) => {
  t.equal(decodable.length, 19)
  for (const name of decodable) {
    const { event, delivery } = decodeBody(readFixture(`bitrix/${name}.body.txt`))
    t.strictSame(asJson(event), asJson(expectedEvent(name)), name)
    // §3: the portal facts travel beside the event, from `auth` (else the bot's block).
    const payload = JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as Payload
    const block = payload.auth ?? payload.data?.bot?.auth
    t.strictSame(asJson(delivery), {
      source: 'webhook',
      portal: { domain: block?.domain ?? null, memberId: block?.member_id ?? null, clientEndpoint: block?.client_endpoint ?? null },
      handlerId: payload.event_handler_id === undefined ? null : Number(payload.event_handler_id),
    }, `${name}: delivery`)
  }
})

t.test('the tests’ reading of the contract names the same fields as the schemas', async (t) => {
  type Described = { properties?: Record<string, Described>; required?: string[]; anyOf?: Described[] }
  const compare = (shape: Shape, schema: Described, path: string) => {
    t.strictSame(Object.keys(schema.properties ?? {}).sort(), [...Object.keys(shape.required), ...Object.keys(shape.optional)].sort(), `${path} fields`)
    t.strictSame([...(schema.required ?? [])].sort(), Object.keys(shape.required).sort(), `${path} required fields`)
    for (const [key, kind] of Object.entries({ ...shape.required, ...shape.optional }) as Array<[string, Kind]>) {
      if (typeof kind !== 'object') continue
      const child = schema.properties?.[key] as Described
      compare('nullable' in kind ? kind.nullable : kind, child.anyOf?.find((member) => member.properties) ?? child, `${path}/${key}`)
    }
  }
  t.strictSame(Object.keys(wireContract), Object.keys(EventDataSchemas))
  for (const [type, schema] of Object.entries(EventDataSchemas)) compare(wireContract[type] as Shape, schema as Described, type)
})

t.test('the captured live event reads as the contract says', async (t) => {
  const { event, delivery } = decodeBody(readFixture('bitrix/capture_imbot_v2_message_add_2026_09_16.body.txt'))
  t.match(event, {
    eventId: null,
    type: 'ONIMBOTV2MESSAGEADD',
    date: '2026-09-16T08:05:01+00:00',
    data: {
      bot: { id: 511, code: 'ai_dc_bot' },
      message: { id: 1093189, chatId: 19167, chat_id: '19167', authorId: 515, isSystem: false, forward: null, params: {}, text: 'ыфвфывфвывфы' },
      chat: { owner: 0, parentChatId: 0, diskFolderId: 0, textFieldEnabled: 'Y', color: '#3e99ce', entityLink: { url: '' }, hasManageCapability: '0' },
      user: { id: 515, active: true, extranet: true, idle: false, phones: false, departments: [], internalAccount: '0' },
      language: 'ru',
    },
  })
  t.same(delivery.portal, { domain: 'teplodar.bitrix24.ru', memberId: '61fe44d3770c22e3fab7bff06b17e7e3', clientEndpoint: 'https://teplodar.bitrix24.ru/rest/' })
  t.equal(delivery.handlerId, 111)
  t.equal(delivery.source, 'webhook')
  t.equal(delivery.credentials.applicationToken, 'c76f868e000000000000000000000000')
  t.equal(delivery.credentials.bot?.access_token, 'accesstoken00000000000000000000000000000000000000000000000000000000000')
  t.equal(delivery.credentials.auth?.refresh_token, 'refreshtoken1000000000000000000000000000000000000000000000000000000000')
})

t.test('no credential of any fixture survives in what can be printed', async (t) => {
  for (const name of bitrixCases()) {
    const secrets = secretsOf(readFixture(`bitrix/${name}.payload.json`))
    t.ok(secrets.length > 0, `${name} has credentials`)
    let printed: string
    try {
      const inbound = decodeBody(readFixture(`bitrix/${name}.body.txt`))
      printed = JSON.stringify(inbound) + inspect(inbound, { depth: null }) + String(inbound.delivery.credentials)
    } catch (error) {
      printed = String(error) + inspect(error, { depth: null })
    }
    for (const secret of secrets) t.notOk(printed.includes(secret), `${name} hides ${secret.slice(0, 6)}…`)
  }
})

t.test('refuses a known event that misses required fields, naming each', async (t) => {
  const error = t.throws(() => decodeBody(readFixture('bitrix/variant_empty_and_null.body.txt'))) as EventValidationError
  t.type(error, EventValidationError)
  t.equal(error.statusCode, 422)
  t.equal(error.type, 'ONIMBOTV2MESSAGEADD')
  t.same(error.issues.slice(0, 2), [
    { path: '/data/chat/type', message: 'is required' },
    { path: '/data/chat/name', message: 'is required' },
  ])
  t.equal(error.issues.length, 17)
})

t.test('names every failing field of a body, however many', async (t) => {
  const payload = JSON.parse(readFixture('bitrix/imbot_v2_message_add_webhook.payload.json')) as { data: Record<string, Record<string, unknown>> }
  const broken = { message: ['id', 'chatId', 'authorId', 'isSystem', 'viewedByOthers'], chat: ['id', 'owner'], user: ['id', 'active', 'extranet', 'bot', 'connector'] }
  for (const [object, fields] of Object.entries(broken)) for (const field of fields) (payload.data[object] as Record<string, unknown>)[field] = 'x'
  const error = t.throws(() => decodeBody(encodeForm(payload as PhpValue))) as EventValidationError
  t.type(error, EventValidationError)
  t.strictSame(
    error.issues.map((issue) => issue.path).sort(),
    Object.entries(broken).flatMap(([object, fields]) => fields.map((field) => `/data/${object}/${field}`)).sort(),
  )
  t.equal(error.issues.length, 12, 'past TypeBox’s 8')
})

t.test('reads nulls, empties, zeros and gaps as the contract says', async (t) => {
  // variant_empty_and_null with its required plain fields filled in.
  const payload = JSON.parse(readFixture('bitrix/variant_empty_and_null.payload.json')) as { data: Record<string, Record<string, unknown>> }
  Object.assign(payload.data.chat as object, { type: 'chat', name: 'n', owner: 0, avatar: '', entityType: '' })
  const filled = { name: 'n', firstName: 'f', lastName: '', color: '', avatar: '', gender: 'M', extranet: false, bot: false, connector: false, externalAuthId: 'default', status: 'online', type: 'employee' }
  Object.assign(payload.data.user as object, filled)
  const { data } = decodeBody(encodeForm(payload as PhpValue)).event as { data: Record<string, unknown> }
  t.strictSame(asJson(data), asJson(expectedData('ONIMBOTV2MESSAGEADD', payload.data)), 'as the tests’ reading of the contract says')
  t.strictSame(asJson(data.message), { id: 793, chatId: 5, authorId: 0, text: '', isSystem: true, uuid: '', viewedByOthers: false, date: null, forward: null, params: {} })
  t.strictSame(asJson(data.chat), { id: 5, dialogId: 'chat5', parentChatId: 0, textFieldEnabled: 'N', type: 'chat', name: 'n', owner: 0, avatar: '', entityType: '', color: null })
  t.strictSame(asJson(data.user), {
    id: 1, active: false, idle: false, absent: '2025-01-20T00:00:00+02:00', phones: false, birthday: '', zeroString: '0', zeroInt: '0',
    listWithNull: { 0: '1', 2: '3' }, ...filled, lastActivityDate: false, mobileLastDate: false, desktopLastDate: false, departments: [],
  })
})

t.test('routes any other event generically, without its credentials', async (t) => {
  const v1 = decodeBody(readFixture('bitrix/v1_onimbotmessageadd.body.txt'))
  t.equal(v1.event.type, 'ONIMBOTMESSAGEADD')
  t.match(v1.event.data, { BOT: { 567: { BOT_ID: '567', BOT_CODE: 'BOT1', member_id: 'bac1cd5c8940947a75e0d71b1a84e348' } }, PARAMS: { MESSAGE: 'Hello' } })
  t.notOk('AUTH' in ((v1.event.data.BOT as Record<string, object>)[567] as object))
  const crm = decodeBody('event=ONCRMDEALADD&data%5BFIELDS%5D%5BID%5D=7&ts=1700000000&auth%5Bapplication_token%5D=x')
  t.strictSame(asJson(crm.event), { eventId: null, type: 'ONCRMDEALADD', date: '2023-11-14T22:13:20+00:00', data: { FIELDS: { ID: '7' } } })
  t.strictSame(asJson(decodeBody('event=onAppInstall&ts=1').event), { eventId: null, type: 'ONAPPINSTALL', date: '1970-01-01T00:00:01+00:00', data: {} })
})

t.test('puts a JSON webhook and a polled event through the same validation', async (t) => {
  const form = decodeBody(readFixture('bitrix/imbot_v2_message_add_webhook.body.txt'))
  const json = decodeBody(readFixture('bitrix/imbot_v2_message_add_webhook.payload.json'))
  t.strictSame(asJson(json), asJson(form), 'a JSON webhook decodes like its form twin')
  t.equal(json.delivery.credentials.applicationToken, form.delivery.credentials.applicationToken)
  const typed = JSON.parse(readFixture('bitrix/imbot_v2_message_add_fetch_shape.payload.json')) as { data: object }
  const polled = decodeBody(JSON.stringify({ eventId: 2001, type: 'ONIMBOTV2MESSAGEADD', date: '2025-01-15T10:30:00+02:00', data: typed.data }))
  const webhook = decodeBody(readFixture('bitrix/imbot_v2_message_add_fetch_shape.body.txt'))
  t.strictSame(asJson(polled.event.data), asJson(webhook.event.data), 'same data whichever door')
  t.strictSame(asJson(polled.event), { ...(asJson(webhook.event) as object), eventId: 2001, date: '2025-01-15T10:30:00+02:00' })
  t.strictSame(asJson(polled.delivery), { source: 'poll', portal: { domain: null, memberId: null, clientEndpoint: null }, handlerId: null })
  t.throws(() => decodeBody(JSON.stringify({ eventId: 1, type: 'ONIMV2MESSAGEADD', date: 'd', data: { message: { id: 'x' } } })), EventValidationError)
})

t.test('refuses what is no event with a clear reason', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['data%5Ba%5D=1&ts=1', /not a Bitrix24 event: \/event is required/],
    ['event=&ts=1', /not a Bitrix24 event: \/event/],
    ['event=X&ts=soon', /\/ts must be integer/],
    ['event=X&ts=99999999999999', /\/ts must be <= 253402300799/],
    ['event=X&ts=1&data=flat', /\/data must be an object/],
    ['event=X&ts=1&event_handler_id=abc', /\/event_handler_id must be integer/],
    ['{"eventId": "one", "type": "X", "date": "d", "data": {}}', /not a polled event: \/eventId must be integer/],
    ['{"eventId": 1, "type": "X", "date": "d", "data": 5}', /not a polled event: \/data must be an object/],
  ]
  for (const [body, reason] of cases) t.throws(() => decodeBody(body), { name: 'EnvelopeError', code: 'NOT_AN_EVENT', message: reason, statusCode: 400 }, body)
  const leaky = t.throws(() => decodeBody('event=X&ts=SECRET1&event_handler_id=SECRET2')) as EnvelopeError
  t.type(leaky, EnvelopeError)
  t.match(leaky, { code: 'NOT_AN_EVENT', statusCode: 400, message: /\/event_handler_id must be integer; \/ts must be integer/ })
  t.notMatch(leaky.message, /SECRET/, 'the reason names paths, never what was sent')
  t.throws(() => decodeBody('{"event": "X", '), MalformedBodyError)
  t.throws(() => decodeBody('event=X&ts=1&a[b][c]=1', { maxDepth: 1 }), { statusCode: 400, code: 'MALFORMED_BODY' })
})

t.test('a form is always a webhook, even with a key named eventId', async (t) => {
  t.throws(() => decodeBody('eventId=5&type=ONIMV2JOINCHAT&date=d'), { code: 'NOT_AN_EVENT', message: /not a Bitrix24 event/ })
})
