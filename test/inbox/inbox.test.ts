import t from 'tap'
import { Inbox } from '../../src/inbox/inbox.ts'
import { openDatabase } from '../../src/inbox/open-database.ts'
import { chatKey, dedupKey, rejectedKey } from '../../src/event/event-keys.ts'
import { decodeBody } from '../../src/event/decode-body.ts'
import { Credentials } from '../../src/event/credentials.ts'
import { EventValidationError } from '../../src/errors.ts'
import type { InboundEvent } from '../../src/event/inbound-event.ts'
import { asJson, readFixture } from '../helpers.ts'

const inbound = (name: string) => decodeBody(readFixture(`bitrix/${name}.body.txt`))
const newEvent = (input: InboundEvent) => {
  const key = dedupKey(input)
  return { inbound: input, dedupKey: key, chatKey: chatKey(input, key) }
}
const open = (t: { testdir(): string; teardown(fn: () => void): void }, dedupWindowMs = 60000) => {
  const inbox = new Inbox(openDatabase(t.testdir()), { dedupWindowMs })
  t.teardown(() => inbox.close())
  return inbox
}

t.test('stores events with their credentials apart, and gives them back whole', async (t) => {
  const inbox = open(t)
  const input = inbound('capture_imbot_v2_message_add_2026_09_16')
  t.equal(await inbox.add(newEvent(input)), true)
  const [stored] = inbox.claim(Date.now(), 10, new Set())
  t.same(asJson(stored?.inbound), asJson(input))
  t.equal(stored?.attempts, 0)
  t.equal(stored?.inbound.delivery.credentials.bot?.access_token, input.delivery.credentials.bot?.access_token)
  t.equal(stored?.inbound.delivery.credentials.applicationToken, 'c76f868e000000000000000000000000')
  inbox.complete(stored?.id as number)
  t.same(inbox.claim(Date.now(), 10, new Set()), [])
  t.match(inbox.stats(), { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0 })
})

t.test('commits everything added in one turn together and tells each caller', async (t) => {
  const inbox = open(t)
  const added: number[] = []
  inbox.onAdded(() => added.push(inbox.stats().depth))
  const inputs = ['im_v2_message_add', 'im_v2_message_update', 'im_v2_join_chat', 'imbot_v2_delete_webhook', 'v1_onimbotmessageadd'].map(inbound)
  t.same(await Promise.all(inputs.map((input) => inbox.add(newEvent(input)))), [true, true, true, true, true])
  t.same(added, [5], 'one commit for the five')
  t.match(inbox.stats(), { depth: 5, oldestPendingAgeMs: Number })
})

t.test('stores a double delivery once, within the dedup window', async (t) => {
  const inbox = open(t, 50)
  const first = newEvent(inbound('im_v2_message_add'))
  const twin = newEvent(inbound('im_v2_message_add'))
  t.equal(twin.dedupKey, first.dedupKey, 'the same event twice has one key')
  t.same(await Promise.all([inbox.add(first), inbox.add(twin)]), [true, false], 'microseconds apart')
  t.equal(await inbox.add(twin), false, 'or later')
  const edit = newEvent(inbound('im_v2_message_update'))
  t.equal(await inbox.add(edit), true, 'another event of the same message is another event')
  t.equal(inbox.purgeExpiredKeys(Date.now() + 60), 2, 'keys leave after the window')
  t.equal(await inbox.add(twin), true)
})

t.test('hands out the oldest pending event of each chat only, so a chat keeps its order', async (t) => {
  const inbox = open(t)
  const a1 = inbound('im_v2_message_add')
  const a2 = inbound('im_v2_message_update')
  const b1 = inbound('capture_imbot_v2_message_add_2026_09_16')
  const solo = inbound('imbot_v2_delete_webhook')
  for (const input of [a1, a2, b1, solo]) await inbox.add(newEvent(input))
  const first = inbox.claim(Date.now(), 10, new Set())
  t.same(first.map((stored) => stored.inbound.event.type), ['ONIMV2MESSAGEADD', 'ONIMBOTV2MESSAGEADD', 'ONIMBOTV2DELETE'])
  t.match(first.map((stored) => stored.chatKey), ['chat:d897063e1ce7c5eb9f04b9751eef5915:5', 'chat:61fe44d3770c22e3fab7bff06b17e7e3:19167', /^solo:hook:/])
  t.same(inbox.claim(Date.now(), 10, new Set([first[0]?.chatKey as string])).length, 2, 'a busy chat is skipped')
  t.same(inbox.claim(Date.now(), 1, new Set()).length, 1, 'up to the limit')
  inbox.retry(first[0]?.id as number, 1, Date.now() + 60000, 'Error: boom')
  t.same(
    inbox.claim(Date.now(), 10, new Set()).map((stored) => stored.inbound.event.type),
    ['ONIMBOTV2MESSAGEADD', 'ONIMBOTV2DELETE'],
    'a retrying event holds back the later events of its chat',
  )
  t.same(inbox.claim(Date.now() + 60000, 10, new Set())[0]?.attempts, 1, 'until it is due')
  t.match(inbox.stats(), { depth: 4, retrying: 1 })
  t.ok((inbox.nextDueAt() as number) <= Date.now())
  inbox.bury(first[0]?.id as number, 3, 'Error: boom')
  t.same(inbox.claim(Date.now(), 10, new Set()).map((stored) => stored.inbound.event.type), ['ONIMV2MESSAGEUPDATE', 'ONIMBOTV2MESSAGEADD', 'ONIMBOTV2DELETE'], 'a dead one lets them go')
  t.match(inbox.stats(), { depth: 3, deadLetters: 1 })
})

t.test('keeps dead letters, with or without an event, and never their credentials', async (t) => {
  const inbox = open(t)
  const input = inbound('imbot_v2_message_add_webhook')
  await inbox.add(newEvent(input))
  const [stored] = inbox.claim(Date.now(), 1, new Set())
  inbox.bury(stored?.id as number, 8, 'Error: handler down')
  const payload = { event: 'ONIMV2MESSAGEADD', data: { message: { id: 'abc' } }, ts: '1' }
  const portal = { domain: 'p.bitrix24.com', memberId: 'm', clientEndpoint: null }
  const error = new EventValidationError('ONIMV2MESSAGEADD', [{ path: '/data/message/id', message: 'must be integer' }])
  const rejected = { type: 'ONIMV2MESSAGEADD', payload, portal, credentials: new Credentials({ application_token: 'secret-app' }), error: error.message, dedupKey: rejectedKey(portal, payload) }
  t.equal(await inbox.addRejected(rejected), true)
  t.equal(await inbox.addRejected(rejected), false, 'a double delivery is kept once')
  const letters = inbox.deadLetters()
  t.match(letters, [
    { type: 'ONIMBOTV2MESSAGEADD', attempts: 8, error: 'Error: handler down', event: { type: 'ONIMBOTV2MESSAGEADD' }, payload: null, portal: { domain: 'some-domain.bitrix24.com' } },
    { type: 'ONIMV2MESSAGEADD', attempts: 0, error: /must be integer/, event: null, payload, portal },
  ])
  t.notOk(JSON.stringify(letters).includes('secret-app'))
  t.same(inbox.deadLetter(letters[1]?.id as number), letters[1])
  t.equal(inbox.deadLetter(999), null)
  t.equal(inbox.deadLetterSource(999), null)
  t.equal(inbox.deadLetterSource(letters[1]?.id as number)?.credentials.applicationToken, 'secret-app')
  t.equal(inbox.drop(letters[1]?.id as number), true)
  t.equal(inbox.drop(letters[1]?.id as number), false)
  let woken = 0
  inbox.onAdded(() => woken++)
  inbox.revive(letters[0]?.id as number, letters[0]?.event as InboundEvent['event'], null)
  t.equal(woken, 1, 'a revived event wakes the worker')
  t.same(inbox.claim(Date.now(), 5, new Set()).map((item) => [item.inbound.event.type, item.attempts]), [['ONIMBOTV2MESSAGEADD', 0]])
})

t.test('keeps small facts across restarts (the poller offset)', async (t) => {
  const dir = t.testdir()
  const first = new Inbox(openDatabase(dir), { dedupWindowMs: 1 })
  t.equal(first.getMeta('offset'), null)
  first.setMeta('offset', '10')
  first.setMeta('offset', '12')
  first.close()
  const second = new Inbox(openDatabase(dir), { dedupWindowMs: 1 })
  t.equal(second.getMeta('offset'), '12')
  second.close()
})

t.test('refuses to acknowledge what it could not commit, and says it is not writable', async (t) => {
  const db = openDatabase(t.testdir())
  const inbox = new Inbox(db, { dedupWindowMs: 1000 })
  t.equal(inbox.writable, true)
  db.exec('DROP TABLE credentials') // what a broken disk or a wrong file would do to a commit
  const input = inbound('capture_imbot_v2_message_add_2026_09_16')
  await t.rejects(inbox.add(newEvent(input)), { name: 'InboxUnavailableError', statusCode: 503, message: 'the inbox cannot store events now' })
  t.equal(inbox.writable, false)
  t.equal(inbox.stats().depth, 0, 'nothing half-stored')
  t.equal(await inbox.add(newEvent(inbound('imbot_v2_delete_webhook'))).catch(() => 'refused'), 'refused')
  inbox.close()
})
