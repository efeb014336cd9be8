import t from 'tap'
import { Credentials } from '../../src/event/credentials.ts'
import type { Portal } from '../../schemas/portal.ts'
import { polledArrival } from '../../src/door/arrival.ts'
import { arrivalRecord } from '../../src/door/arrival-record.ts'
import type { Sealer } from '../../src/seal/sealer.ts'
import { BOT_DELETED, MEMBER_ID, POLL_PORTAL, polledEvent, SEALER, secretsOf, TOKEN, webhookArrival } from './arrivals.ts'

t.test('the record of a webhook: its wire in line with its chat, its credentials sealed', async (t) => {
  const arrival = webhookArrival()
  const record = arrivalRecord(arrival, SEALER)
  t.same(record, {
    chatKey: `chat:${MEMBER_ID}:5`,
    type: 'ONIMBOTV2MESSAGEADD',
    source: 'webhook',
    portal: arrival.portal,
    bodyKind: 'form',
    body: arrival.body,
    credentials: record.credentials,
  })
  t.equal(arrival.portal.memberId, MEMBER_ID, "the portal its credentials name (the door's)")
  t.match(record.credentials, /^v1\./, 'sealed')
  t.equal(SEALER.open(record.credentials as string), arrival.credentials.serialize(), 'opens to what came')
  const opened = Credentials.parse(SEALER.open(record.credentials as string))
  t.equal(opened.applicationToken, TOKEN)
  t.same(opened.bot, arrival.credentials.bot, "the bot's tokens, for callbacks as the bot")
  const secrets = secretsOf(arrival.credentials)
  t.ok(secrets.length >= 3, `${secrets.length} secrets to look for`)
  const stored = JSON.stringify(record)
  for (const secret of secrets) t.notOk(stored.includes(secret), 'no secret in clear anywhere in the record')
})

t.test('a JSON webhook alike, its body the payload without credentials', async (t) => {
  const arrival = webhookArrival(undefined, 'json')
  const record = arrivalRecord(arrival, SEALER)
  t.match(record, { chatKey: `chat:${MEMBER_ID}:5`, type: 'ONIMBOTV2MESSAGEADD', bodyKind: 'payload', body: arrival.body })
  t.match(JSON.parse(record.body), { event: 'ONIMBOTV2MESSAGEADD', data: { chat: { id: 5 } } })
  t.equal(SEALER.open(record.credentials as string), arrival.credentials.serialize())
})

t.test('an event about no chat waits only behind events of its type from its portal', async (t) => {
  const arrival = webhookArrival(BOT_DELETED)
  t.equal(arrival.chat, null)
  t.equal(arrivalRecord(arrival, SEALER).chatKey, `solo:${MEMBER_ID}:ONIMBOTV2DELETE`)
  t.equal(arrivalRecord({ ...arrival, type: 'ONAPPINSTALL' }, SEALER).chatKey, `solo:${MEMBER_ID}:ONAPPINSTALL`, 'another type, another line')
})

t.test("the portal's key: its member id, else its domain, else '-'", async (t) => {
  const arrival = webhookArrival()
  const keyed = (portal: Portal, chat: string | null = '5') => arrivalRecord({ ...arrival, portal, chat }, SEALER).chatKey
  t.equal(keyed({ domain: 'a.bitrix24.com', memberId: 'm-1', clientEndpoint: null }), 'chat:m-1:5')
  t.equal(keyed({ domain: 'a.bitrix24.com', memberId: null, clientEndpoint: null }), 'chat:a.bitrix24.com:5')
  t.equal(keyed({ domain: null, memberId: null, clientEndpoint: 'https://a.bitrix24.com/rest/' }), 'chat:-:5')
  t.equal(keyed({ domain: null, memberId: null, clientEndpoint: null }, null), 'solo:-:ONIMBOTV2MESSAGEADD')
  t.equal(keyed({ domain: 'a.bitrix24.com', memberId: null, clientEndpoint: null }, null), 'solo:a.bitrix24.com:ONIMBOTV2MESSAGEADD')
})

t.test('a polled event: no credentials to seal, null', async (t) => {
  const polled = polledEvent(9)
  const record = arrivalRecord(polledArrival(polled, POLL_PORTAL), SEALER)
  t.same(record, { chatKey: 'chat:p.bitrix24.com:5', type: 'ONIMV2MESSAGEADD', source: 'poll', portal: POLL_PORTAL, bodyKind: 'payload', body: JSON.stringify(polled), credentials: null })
  t.equal(arrivalRecord(polledArrival(42, POLL_PORTAL), SEALER).chatKey, 'solo:p.bitrix24.com:UNKNOWN')
})

t.test('the sealer seals exactly the serialized credentials, and only when there are some', async (t) => {
  const sealed: string[] = []
  const sealer: Sealer = { seal: (plain) => (sealed.push(plain), `sealed#${sealed.length}`), open: () => t.fail('never opened') as never, digest: () => t.fail('no digest') as never }
  const arrival = webhookArrival()
  t.equal(arrivalRecord(arrival, sealer).credentials, 'sealed#1')
  t.same(sealed, [arrival.credentials.serialize()])
  const botOnly = new Credentials(undefined, { access_token: 'bot-only' })
  t.equal(arrivalRecord({ ...arrival, credentials: botOnly }, sealer).credentials, 'sealed#2', "the bot's alone are sealed too")
  t.equal(arrivalRecord({ ...arrival, credentials: new Credentials() }, sealer).credentials, null)
  t.equal(sealed.length, 2, 'nothing sealed for no credentials')
})
