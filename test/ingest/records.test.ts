import t from 'tap'
import { EnvelopeError, EventValidationError } from '../../src/errors.ts'
import { Credentials } from '../../src/event/credentials.ts'
import { chatKey, dedupKey, rejectedKey } from '../../src/event/event-keys.ts'
import { decodeArrival } from '../../src/ingest/arrival.ts'
import { eventRecord, inboundOf, oversizedRecord, rejectedRecord } from '../../src/ingest/records.ts'
import type { StoredRecord } from '../../src/store/store.ts'
import { FormParseError } from '../../src/wire/parse-form.ts'
import { asJson } from '../helpers.ts'
import { POLL_PORTAL, polledArrival, TOKEN, webhookArrival } from './arrivals.ts'

const secretsOf = (credentials: Credentials) => [credentials.auth?.access_token, credentials.auth?.refresh_token, credentials.bot?.access_token, credentials.bot?.refresh_token, TOKEN]

t.test('the record of a webhook event: keyed for dedup and its chat, credentials apart', async (t) => {
  const arrival = webhookArrival()
  const inbound = decodeArrival(arrival)
  const record = eventRecord(inbound)
  const key = dedupKey(inbound)
  t.match(key, /^hook:/)
  t.same(record, {
    key,
    chatKey: chatKey(inbound, key),
    type: 'ONIMBOTV2MESSAGEADD',
    source: 'webhook',
    portal: arrival.portal,
    handlerId: 42,
    bodyKind: 'event',
    body: JSON.stringify(inbound.event),
    credentials: arrival.credentials.serialize(),
  })
  t.equal(record.chatKey, `chat:${arrival.portal.memberId}:5`, 'in line with the other events of its chat')
  for (const secret of secretsOf(arrival.credentials)) t.notOk(record.body.includes(secret as string), 'no credential in the body')
  const credentials = Credentials.parse(record.credentials)
  t.same(credentials.bot, arrival.credentials.bot, "the bot's tokens, for callbacks as the bot")
  t.equal(credentials.applicationToken, TOKEN)
  t.equal(eventRecord(decodeArrival(webhookArrival())).key, key, 'a double delivery has the same key')
  t.not(eventRecord(decodeArrival(webhookArrival({ text: 'edited', ts: 1_800_000_060 }))).key, key, 'another event of the same chat another')
})

t.test('the record of a polled event: keyed by its portal and event id', async (t) => {
  const record = eventRecord(decodeArrival(polledArrival(7)))
  t.match(record, { key: 'poll:polled-member:7', chatKey: 'chat:polled-member:5', type: 'ONIMV2MESSAGEADD', source: 'poll', portal: POLL_PORTAL, handlerId: null, bodyKind: 'event' })
  t.match(JSON.parse(record.body), { eventId: 7, type: 'ONIMV2MESSAGEADD', data: { chat: { id: 5 } } })
  t.same(Credentials.parse(record.credentials).auth, undefined)
})

t.test('the dead-letter record of a webhook that failed to decode: its payload with every credential cut out', async (t) => {
  const arrival = webhookArrival()
  const error = new EventValidationError('ONIMBOTV2MESSAGEADD', [{ path: '/data/message/id', message: 'must be integer' }])
  const record = rejectedRecord(arrival, error)
  const body = JSON.parse(record.body)
  t.notOk('auth' in body, 'no top-level auth')
  t.same(Object.keys(body.data.bot).sort(), ['code', 'id'], 'no data.bot.auth')
  for (const secret of secretsOf(arrival.credentials)) t.notOk(record.body.includes(secret as string), 'no credential anywhere in it')
  t.equal(body.data.chat.id, '5', 'as the form wire reads it')
  t.same(record, {
    key: rejectedKey(arrival.portal, record.body),
    chatKey: `rejected:${record.key}`,
    type: 'ONIMBOTV2MESSAGEADD',
    source: 'webhook',
    portal: arrival.portal,
    handlerId: null,
    bodyKind: 'payload',
    body: record.body,
    credentials: arrival.credentials.serialize(),
    error: 'ONIMBOTV2MESSAGEADD does not match its schema: /data/message/id: must be integer',
  })
  t.match(record.key, /^bad:/)
  t.same(Credentials.parse(record.credentials).bot, arrival.credentials.bot, 'the credentials kept apart, for a replay')
  t.equal(rejectedRecord(webhookArrival(), error).key, record.key, 'a double delivery has the same key, whatever its tokens')
})

t.test('the dead-letter record of a polled event that failed to decode: its payload as it came', async (t) => {
  const arrival = polledArrival(9)
  const record = rejectedRecord(arrival, new EnvelopeError('not a polled event: /date must be string'))
  t.same(JSON.parse(record.body), arrival.payload)
  t.match(record, { type: 'ONIMV2MESSAGEADD', source: 'poll', portal: POLL_PORTAL, bodyKind: 'payload', error: 'not a polled event: /date must be string', key: rejectedKey(POLL_PORTAL, record.body) })
})

t.test('a dead letter is named by its type, the payload\'s event or type, else UNKNOWN', async (t) => {
  const arrival = webhookArrival()
  const envelope = new EnvelopeError('not a Bitrix24 event')
  const typed = (payload: Record<string, unknown>, error: EnvelopeError | EventValidationError = envelope) => rejectedRecord({ ...arrival, payload }, error).type
  t.equal(typed({ event: 'onImBotV2MessageAdd' }), 'ONIMBOTV2MESSAGEADD')
  t.equal(typed({ type: 'onImV2JoinChat' }), 'ONIMV2JOINCHAT')
  t.equal(typed({ event: 12 }), 'UNKNOWN')
  t.equal(typed({}), 'UNKNOWN')
  t.equal(typed({ event: '' }), 'UNKNOWN')
  t.equal(typed({ event: 'onImBotV2MessageAdd' }, new EventValidationError('ONIMBOTV2DELETE', [])), 'ONIMBOTV2DELETE', 'the failed schema names it first')
})

t.test('the dead-letter record of a form past the decoding limits: its text as it came, credentials cut out', async (t) => {
  const { credentials, portal } = webhookArrival()
  const error = new FormParseError('the body has more than 10 pairs')
  const form = 'event=ONIMBOTV2MESSAGEADD&data%5Bmessage%5D%5Btext%5D=hi'
  const record = oversizedRecord({ source: 'webhook', form, type: 'onImBotV2MessageAdd', credentials, portal }, error)
  t.same(record, {
    key: rejectedKey(portal, form),
    chatKey: `rejected:${record.key}`,
    type: 'ONIMBOTV2MESSAGEADD',
    source: 'webhook',
    portal,
    handlerId: null,
    bodyKind: 'form',
    body: form,
    credentials: credentials.serialize(),
    error: 'the body has more than 10 pairs',
  })
  t.equal(oversizedRecord({ source: 'webhook', form, type: undefined, credentials, portal }, error).type, 'UNKNOWN', 'no event read')
  t.equal(oversizedRecord({ source: 'webhook', form, type: ['x'], credentials, portal }, error).type, 'UNKNOWN')
})

t.test('a stored record gives back its event and how it arrived', async (t) => {
  const arrival = webhookArrival()
  const inbound = decodeArrival(arrival)
  const stored: StoredRecord = { ...eventRecord(inbound), id: 1, attempts: 2, receivedAt: Date.now() }
  const back = inboundOf(stored)
  t.same(asJson(back.event), asJson(inbound.event))
  t.same(back.delivery.portal, arrival.portal)
  t.equal(back.delivery.source, 'webhook')
  t.equal(back.delivery.handlerId, 42)
  t.same(back.delivery.credentials.bot, arrival.credentials.bot)
  t.equal(back.delivery.credentials.applicationToken, TOKEN)
})
