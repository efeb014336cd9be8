import t from 'tap'
import { polledArrival } from '../../src/door/arrival.ts'
import { decodeRecord } from '../../src/worker/decode-record.ts'
import { POLL_PORTAL, polledData, polledEvent } from './arrivals.ts'

const chatOf = (data: unknown) => polledArrival({ eventId: 1, type: 'ONIMV2MESSAGEADD', date: 'd', data }, POLL_PORTAL).chat

t.test('a polled event: its type, its chat, the portal polled, the event as JSON, no credentials', async (t) => {
  const polled = polledEvent(7)
  const arrival = polledArrival(polled, POLL_PORTAL)
  t.same(arrival, { source: 'poll', type: 'ONIMV2MESSAGEADD', chat: '5', portal: POLL_PORTAL, bodyKind: 'payload', body: JSON.stringify(polled), credentials: arrival.credentials })
  t.ok(arrival.credentials.isEmpty, 'a polled event brings no credentials')
  t.equal(arrival.credentials.serialize(), '{}')
  t.equal(polledArrival({ ...polled, type: 'onImV2JoinChat' }, POLL_PORTAL).type, 'ONIMV2JOINCHAT', 'its type upper case')
  // What the worker will make of it: the event as polled.
  const { event, delivery } = decodeRecord({ ...arrival, chatKey: 'chat:x:5', id: 1, attempts: 0, receivedAt: 0, credentials: null })
  t.match(event, { eventId: 7, type: 'ONIMV2MESSAGEADD', data: { chat: { id: 5 }, message: { id: 5012 } } })
  t.same(delivery.portal, POLL_PORTAL)
})

t.test('what is not an object is kept whole under `value`, of type UNKNOWN and about no chat', async (t) => {
  for (const value of [42, 'ONIMV2MESSAGEADD', true, null]) {
    const arrival = polledArrival(value, POLL_PORTAL)
    t.match(arrival, { source: 'poll', type: 'UNKNOWN', chat: null, portal: POLL_PORTAL, bodyKind: 'payload' }, String(value))
    t.same(JSON.parse(arrival.body), { value }, 'kept under value, not under a field a decoder would read as its type')
  }
})

t.test('an object with no readable type is UNKNOWN, and stored as it came', async (t) => {
  for (const type of [undefined, '', 12, { name: 'ONIMV2MESSAGEADD' }]) {
    const polled = { eventId: 3, type, date: 'd', data: polledData() }
    const arrival = polledArrival(polled, POLL_PORTAL)
    t.equal(arrival.type, 'UNKNOWN', `type ${JSON.stringify(type)}`)
    t.equal(arrival.body, JSON.stringify(polled))
    t.equal(arrival.chat, '5', 'its chat read all the same')
  }
})

t.test('its chat: data.chat.id, else data.dialogId, a number or a string; nothing else', async (t) => {
  t.equal(chatOf({ chat: { id: 5 } }), '5')
  t.equal(chatOf({ chat: { id: 'chat5' } }), 'chat5')
  t.equal(chatOf({ chat: { id: 0 } }), '0', 'a chat 0 is a chat')
  t.equal(chatOf({ chat: { id: 5 }, dialogId: 'chat9' }), '5', 'chat.id first')
  t.equal(chatOf({ dialogId: 'chat9' }), 'chat9')
  t.equal(chatOf({ dialogId: 9 }), '9')
  t.equal(chatOf({ chat: { name: 'no id' }, dialogId: 'chat9' }), 'chat9', 'a chat without an id: the dialog')
  t.equal(chatOf({ chat: null, dialogId: 'chat9' }), 'chat9')
  t.equal(chatOf({ chat: 'chat5', dialogId: 'chat9' }), 'chat9', 'a chat that is no object has no id')
  t.equal(chatOf({ chat: { id: true }, dialogId: { id: 9 } }), null, 'neither a number nor a string')
  t.equal(chatOf({ chat: { id: null }, dialogId: null }), null)
  t.equal(chatOf({ message: { chatId: 5 } }), null, 'no other field is read')
  t.equal(chatOf({}), null)
  t.equal(chatOf('chat5'), null, 'data that is no object')
  t.equal(chatOf(null), null)
  t.equal(chatOf(undefined), null)
  t.equal(polledArrival(polledEvent(1, 'im_v2_join_chat', 'ONIMV2JOINCHAT'), POLL_PORTAL).chat, '5', 'a real join: chat.id, not its dialogId')
})
