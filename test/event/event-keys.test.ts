import t from 'tap'
import { chatKey, dedupKey } from '../../src/event/event-keys.ts'
import { scanWebhook } from '../../src/event/scan-webhook.ts'
import { decodeBody } from '../../src/event/decode-body.ts'
import { readFixture } from '../helpers.ts'

t.test('a double delivery has one key; two real edits of one message have two', async (t) => {
  const body = readFixture('bitrix/im_v2_message_update.body.txt')
  t.equal(dedupKey(decodeBody(body)), dedupKey(decodeBody(body)))
  const edited = body.replace('edited', 'edited+again')
  t.not(dedupKey(decodeBody(edited)), dedupKey(decodeBody(body)), 'other text')
  t.not(dedupKey(decodeBody(body.replace(/ts=\d+/, 'ts=1772093999'))), dedupKey(decodeBody(body)), 'same text, another time')
  const otherPortal = body.replace(/member_id%5D=[0-9a-f]+/, 'member_id%5D=ffff')
  t.not(dedupKey(decodeBody(otherPortal)), dedupKey(decodeBody(body)), 'another portal')
  const fresherToken = body.replace(/application_token%5D=[0-9a-z]+/, 'application_token%5D=other')
  t.equal(dedupKey(decodeBody(fresherToken)), dedupKey(decodeBody(body)), 'credentials do not count')
})

t.test('a polled event is keyed by its portal and id', async (t) => {
  const polled = decodeBody(JSON.stringify({ eventId: 2001, type: 'ONAPPTEST', date: 'd', data: {} }))
  t.equal(dedupKey(polled), 'poll:-:2001')
  polled.delivery.portal = { domain: 'p.bitrix24.com', memberId: null, clientEndpoint: null }
  t.equal(dedupKey(polled), 'poll:p.bitrix24.com:2001')
})

t.test('orders by chat; events about no chat by portal and type', async (t) => {
  const lineOf = (body: string) => {
    const { credentials, type, chat } = scanWebhook(body, 'form')
    return chatKey(credentials.portal, type, chat)
  }
  const fixture = (name: string) => lineOf(readFixture(`bitrix/${name}.body.txt`))
  t.equal(fixture('imbot_v2_message_add_webhook'), 'chat:bac1cd5c8940947a75e0d71b1a84e348:5')
  t.equal(fixture('imbot_v2_join_chat_webhook'), 'chat:bac1cd5c8940947a75e0d71b1a84e348:5')
  t.equal(fixture('imbot_v2_delete_webhook'), 'solo:bac1cd5c8940947a75e0d71b1a84e348:ONIMBOTV2DELETE')
  t.match(fixture('v1_onimbotmessageadd'), /^solo:/)
  t.equal(lineOf('event=onx&ts=1&data%5BdialogId%5D=chat9'), 'chat:-:chat9')
  t.equal(chatKey({ domain: 'p.bitrix24.com', memberId: null, clientEndpoint: null }, 'ONX', null), 'solo:p.bitrix24.com:ONX')
})
