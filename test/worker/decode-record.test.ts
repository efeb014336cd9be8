import t from 'tap'
import { EnvelopeError, EventValidationError, MalformedBodyError, ReceiverError } from '../../src/errors.ts'
import { Credentials } from '../../src/event/credentials.ts'
import type { Portal } from '../../src/event/decoded-event.ts'
import type { Media } from '../../src/event/read-payload.ts'
import { scanWebhook } from '../../src/event/scan-webhook.ts'
import { polledArrival } from '../../src/door/arrival.ts'
import { decodeRecord, openCredentials } from '../../src/worker/decode-record.ts'
import { arrivalRecord } from '../../src/door/arrival-record.ts'
import { createSealer, SealError } from '../../src/seal/sealer.ts'
import type { NewRecord, StoredRecord } from '../../src/store/store.ts'
import { FormParseError } from '../../src/wire/parse-form.ts'
import { expectedEvent } from '../fixtures/expected-event.ts'
import { asJson, bitrixCases, readFixture } from '../helpers.ts'

const sealer = createSealer(Buffer.alloc(32, 7))
const DOOR_PORTAL: Portal = { domain: 'door.bitrix24.com', memberId: 'door-member', clientEndpoint: 'https://door.bitrix24.com/rest/' }

let ids = 0
const stored = (record: NewRecord): StoredRecord => ({ ...record, id: ++ids, attempts: 0, receivedAt: Date.now() })

const formBody = (name: string): string => readFixture(`bitrix/${name}.body.txt`)
const jsonBody = (name: string): string => readFixture(`bitrix/${name}.payload.json`)

/** A webhook as the door stores it: scanned, its credentials sealed, the portal they name (or `portal`). */
function webhookRecord(body: string, media: Media = 'form', portal?: Portal): { record: StoredRecord; credentials: Credentials } {
  const { credentials, ...wire } = scanWebhook(body, media)
  return { record: stored(arrivalRecord({ source: 'webhook', portal: portal ?? credentials.portal, credentials, ...wire }, sealer)), credentials }
}

/** What `run` threw. */
function failureOf(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('it did not throw')
}

/** One event of an `Event.get` result, built from a fixture's typed data. */
function polledEvent(name: string, eventId: number): Record<string, unknown> {
  const { event, data } = JSON.parse(jsonBody(name)) as { event: string; data: unknown }
  return { eventId, type: event.toUpperCase(), date: '2027-01-15T08:00:00+00:00', data }
}

t.test('a form from a webhook decodes into the event its payload describes, with the credentials given', async (t) => {
  // All but the one the contract refuses (see test/fixtures/README.md).
  const cases = bitrixCases().filter((name) => name !== 'variant_empty_and_null')
  t.ok(cases.length > 10, `${cases.length} real webhook bodies`)
  for (const name of cases) {
    const { record, credentials } = webhookRecord(formBody(name))
    t.equal(record.bodyKind, 'form', name)
    const opened = openCredentials(record, sealer)
    const inbound = decodeRecord(record, opened)
    t.same(asJson(inbound.event), expectedEvent(name), `${name}: the event`)
    const { event_handler_id } = JSON.parse(jsonBody(name)) as { event_handler_id?: number | string }
    t.equal(inbound.delivery.source, 'webhook')
    t.same(inbound.delivery.portal, record.portal, `${name}: the portal stored with it`)
    t.equal(inbound.delivery.handlerId, event_handler_id === undefined ? null : Number(event_handler_id), `${name}: event_handler_id, a number`)
    t.equal(inbound.delivery.credentials, opened, `${name}: the credentials given`)
    t.same([opened.auth, opened.bot], [credentials.auth, credentials.bot], `${name}: as they came, once opened`)
  }
})

t.test("a JSON webhook (a payload) decodes as its form does; its stored wire has no credentials, the seal has them", async (t) => {
  for (const name of ['imbot_v2_message_add_webhook', 'im_v2_message_update', 'imbot_v2_delete_webhook']) {
    const { record, credentials } = webhookRecord(jsonBody(name), 'json')
    t.equal(record.bodyKind, 'payload')
    t.notOk(/access_token|application_token|"auth"/.test(record.body), `${name}: no credentials in the stored wire`)
    const inbound = decodeRecord(record, openCredentials(record, sealer))
    t.same(asJson(inbound.event), expectedEvent(name), `${name}: the event`)
    t.same(asJson(inbound.event), asJson(decodeRecord(webhookRecord(formBody(name)).record).event), `${name}: the same as through a form`)
    t.match(inbound.delivery, { source: 'webhook', portal: record.portal, handlerId: Number((JSON.parse(jsonBody(name)) as { event_handler_id: number }).event_handler_id) })
    t.equal(inbound.delivery.credentials.bot?.access_token, credentials.bot?.access_token)
    t.equal(inbound.delivery.credentials.applicationToken, credentials.applicationToken)
  }
})

t.test("a polled event decodes by the poll's rules: its eventId, its own date, no credentials, the poller's portal", async (t) => {
  const polled = polledEvent('im_v2_message_add', 41)
  const record = stored(arrivalRecord(polledArrival(polled, DOOR_PORTAL), sealer))
  t.match(record, { source: 'poll', bodyKind: 'payload', credentials: null })
  const inbound = decodeRecord(record, openCredentials(record, sealer))
  t.same(asJson(inbound.event), { ...expectedEvent('im_v2_message_add'), eventId: 41, date: '2027-01-15T08:00:00+00:00' })
  t.match(inbound.delivery, { source: 'poll', portal: DOOR_PORTAL, handlerId: null })
  t.ok(inbound.delivery.credentials.isEmpty)

  // The poll door's rules, not a webhook's: a webhook envelope stored as polled is no polled event.
  const hook = stored(arrivalRecord(polledArrival(JSON.parse(jsonBody('im_v2_message_add')), DOOR_PORTAL), sealer))
  t.throws(() => decodeRecord(hook), EnvelopeError)
  t.throws(() => decodeRecord(hook), { message: /^not a polled event: \/eventId is required; \/type is required; \/date is required$/ })
  // And what was not even an object is kept as such, and does not decode.
  for (const value of [null, 'text', 12]) t.throws(() => decodeRecord(stored(arrivalRecord(polledArrival(value, DOOR_PORTAL), sealer))), EnvelopeError)
})

t.test('a legacy row (decoded by an earlier release) comes back as it was stored, with the portal and credentials given', async (t) => {
  const event = expectedEvent('im_v2_message_delete')
  const credentials = new Credentials({ application_token: 'app', member_id: 'elsewhere' })
  for (const source of ['webhook', 'poll'] as const) {
    const record = stored({ chatKey: 'chat:door-member:5', type: event.type, source, portal: DOOR_PORTAL, bodyKind: 'event', body: JSON.stringify(event), credentials: null })
    const inbound = decodeRecord(record, credentials)
    t.same(inbound.event, event)
    t.same(inbound.delivery, { source, portal: DOOR_PORTAL, handlerId: null, credentials })
    t.ok(decodeRecord(record).delivery.credentials.isEmpty, 'none unless given')
  }
})

t.test("the portal is the record's: neither the wire nor its credentials move it", async (t) => {
  // Credentials of one member, stored under the portal the door verified.
  const { record, credentials } = webhookRecord(formBody('imbot_v2_message_add_webhook'), 'form', DOOR_PORTAL)
  t.equal(credentials.portal.memberId, 'bac1cd5c8940947a75e0d71b1a84e348')
  t.same(decodeRecord(record, openCredentials(record, sealer)).delivery.portal, DOOR_PORTAL)

  // A wire that still carries an `auth` block (the door cuts it; a row written otherwise may not).
  const claiming = `${formBody('im_v2_message_add')}&auth%5Bmember_id%5D=intruder&auth%5Bdomain%5D=intruder.bitrix24.com`
  const form = stored({ ...record, bodyKind: 'form', body: claiming, credentials: null })
  t.same(decodeRecord(form).delivery.portal, DOOR_PORTAL)
  t.ok(decodeRecord(form).delivery.credentials.isEmpty, "the wire's auth block is not taken for credentials")
  const json = stored({ ...record, bodyKind: 'payload', body: JSON.stringify({ ...JSON.parse(jsonBody('im_v2_message_add')), auth: { member_id: 'intruder', domain: 'intruder.bitrix24.com' } }), credentials: null })
  t.same(decodeRecord(json, new Credentials({ member_id: 'also-elsewhere' })).delivery.portal, DOOR_PORTAL)
  const polled = stored(arrivalRecord(polledArrival({ ...polledEvent('im_v2_message_add', 1), auth: { member_id: 'intruder' } }, DOOR_PORTAL), sealer))
  t.same(decodeRecord(polled).delivery.portal, DOOR_PORTAL)
})

t.test('formLimits bound the parse of a form: past them it does not decode, and the reason names the limit only', async (t) => {
  const { record } = webhookRecord(formBody('imbot_v2_message_add_webhook'))
  const pairs = record.body.split('&').length
  t.ok(decodeRecord(record, undefined, { maxPairs: pairs }), 'exactly at the limit: decodes')
  const cases: Array<[Partial<{ maxPairs: number; maxDepth: number; maxKeyLength: number }>, RegExp]> = [
    [{ maxPairs: pairs - 1 }, new RegExp(`^more than ${pairs - 1} form fields$`)],
    [{ maxDepth: 1 }, /^a form key nests deeper than 1 levels$/],
    [{ maxKeyLength: 8 }, /^a form key is longer than 8 characters$/],
  ]
  for (const [limits, message] of cases) {
    const error = failureOf(() => decodeRecord(record, undefined, limits))
    t.ok(error instanceof FormParseError && error instanceof MalformedBodyError, `${JSON.stringify(limits)}: a FormParseError`)
    t.match(error, { message }, JSON.stringify(limits))
    t.notOk((error as Error).message.includes('Hello'), 'no value in the reason')
  }
  t.same(asJson(decodeRecord(record, undefined, { maxDepth: 3, maxKeyLength: 40 }).event), expectedEvent('imbot_v2_message_add_webhook'), 'within every limit')
  // The limits bound a form's parse only: the same event as JSON is not counted in pairs.
  t.ok(decodeRecord(webhookRecord(jsonBody('imbot_v2_message_add_webhook'), 'json').record, undefined, { maxPairs: 1 }))
})

t.test('a wire off its schema throws a ReceiverError that names the path, never the value', async (t) => {
  const broken = formBody('im_v2_message_add').replace('data%5Bmessage%5D%5Bid%5D=5012', 'data%5Bmessage%5D%5Bid%5D=secret-value-77')
  t.not(broken, formBody('im_v2_message_add'))
  const { record } = webhookRecord(broken)
  const error = failureOf(() => decodeRecord(record))
  t.ok(error instanceof EventValidationError)
  t.match(error, { message: /^ONIMV2MESSAGEADD does not match its schema: \/data\/message\/id: must be integer$/, issues: [{ path: '/data/message/id' }] })
  t.notOk((error as Error).message.includes('secret-value-77'), 'not the value')

  // The fixture the contract refuses: plain fields left empty, each named.
  const empty = webhookRecord(formBody('variant_empty_and_null')).record
  const refused = failureOf(() => decodeRecord(empty, openCredentials(empty, sealer)))
  t.ok(refused instanceof EventValidationError)
  t.match(refused, { message: /^ONIMBOTV2MESSAGEADD does not match its schema: \/data\/chat\/type: is required; / })

  const noTs = stored({ ...record, body: formBody('im_v2_message_add').replace(/&ts=\d+/, '') })
  t.throws(() => decodeRecord(noTs), EnvelopeError)
  t.throws(() => decodeRecord(noTs), { message: /\/ts/ })
  t.ok(new EnvelopeError('x') instanceof ReceiverError)
})

t.test('openCredentials: none stored is empty credentials; sealed ones open with their key only', async (t) => {
  const none = openCredentials({ credentials: null }, sealer)
  t.ok(none instanceof Credentials)
  t.ok(none.isEmpty)
  t.same([none.auth, none.bot], [undefined, undefined])

  const given = new Credentials({ application_token: 'app-token', member_id: 'm-1' }, { access_token: 'bot-token' })
  const sealed = sealer.seal(given.serialize())
  t.notOk(sealed.includes('bot-token'))
  const opened = openCredentials({ credentials: sealed }, sealer)
  t.same([opened.auth, opened.bot], [given.auth, given.bot])
  t.throws(() => openCredentials({ credentials: sealed }, createSealer(Buffer.alloc(32, 8))), SealError)
  t.throws(() => openCredentials({ credentials: `${sealed.slice(0, -2)}AA` }, sealer), SealError)
})
