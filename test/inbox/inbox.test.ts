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
  const [ref] = inbox.pending()
  const stored = inbox.load(ref?.id as number)
  t.same(asJson(stored?.inbound), asJson(input))
  t.equal(stored?.attempts, 0)
  t.equal(stored?.inbound.delivery.credentials.bot?.access_token, input.delivery.credentials.bot?.access_token)
  t.equal(stored?.inbound.delivery.credentials.applicationToken, 'c76f868e000000000000000000000000')
  inbox.complete(stored?.id as number)
  t.equal(inbox.pending().length, 1, 'gone with the next group commit')
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.same(inbox.pending(), [])
  t.equal(inbox.load(stored?.id as number), null)
  t.match(inbox.stats(), { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0 })
})

t.test('commits everything added in one turn together and tells each caller', async (t) => {
  const inbox = open(t)
  const added: number[] = []
  inbox.onAdded((refs) => added.push(refs.length))
  const inputs = ['im_v2_message_add', 'im_v2_message_update', 'im_v2_join_chat', 'imbot_v2_delete_webhook', 'v1_onimbotmessageadd'].map(inbound)
  t.same(await Promise.all(inputs.map((input) => inbox.add(newEvent(input)))), [true, true, true, true, true])
  t.same(added, [5], 'one commit for the five')
  t.match(inbox.stats(), { depth: 5, oldestPendingAgeMs: Number })
})

t.test('commits a full batch at once, and what is queued when it closes', async (t) => {
  const dir = t.testdir()
  const inbox = new Inbox(openDatabase(dir), { dedupWindowMs: 60000 })
  const body = readFixture('bitrix/im_v2_message_add.body.txt')
  const many = Array.from({ length: 130 }, (_, i) => newEvent(decodeBody(body.replace('5012', String(9000 + i)))))
  const added = Promise.all(many.map((item) => inbox.add(item)))
  t.equal(inbox.pending().length, 128, 'a full batch does not wait for the turn to end')
  t.same(await added, many.map(() => true))
  void inbox.add(newEvent(inbound('im_v2_join_chat')))
  inbox.close()
  const reopened = new Inbox(openDatabase(dir), { dedupWindowMs: 60000 })
  t.equal(reopened.pending().length, 131, 'closing commits what was queued')
  reopened.close()
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
  for (const ref of inbox.pending()) inbox.complete(ref.id)
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(await inbox.add(twin), false, 'a handled event keeps its key for the window')
  t.equal(inbox.purgeExpiredKeys(Date.now() + 100), 2, 'then the key leaves')
  t.equal(await inbox.add(twin), true)
})

t.test('says where each pending event stands: its chat and when it is due', async (t) => {
  const inbox = open(t)
  const inputs = ['im_v2_message_add', 'im_v2_message_update', 'capture_imbot_v2_message_add_2026_09_16', 'imbot_v2_delete_webhook'].map(inbound)
  const before = Date.now()
  for (const input of inputs) await inbox.add(newEvent(input))
  const pending = inbox.pending()
  t.match(pending.map((ref) => ref.chatKey), ['chat:d897063e1ce7c5eb9f04b9751eef5915:5', 'chat:d897063e1ce7c5eb9f04b9751eef5915:5', 'chat:61fe44d3770c22e3fab7bff06b17e7e3:19167', /^solo:hook:/])
  t.ok(pending.every((ref) => ref.nextAt >= before && ref.nextAt <= Date.now()))
  const [first, second] = pending
  inbox.retry(first?.id as number, 1, before + 60000, 'Error: boom')
  t.equal(inbox.pending()[0]?.nextAt, before + 60000)
  t.equal(inbox.load(first?.id as number)?.attempts, 1)
  t.match(inbox.stats(), { depth: 4, retrying: 1 })
  inbox.bury(first?.id as number, 3, 'Error: boom')
  t.equal(inbox.load(first?.id as number), null, 'a dead letter is not pending')
  t.same(inbox.pending().map((ref) => ref.id), [second?.id, pending[2]?.id, pending[3]?.id])
  t.match(inbox.stats(), { depth: 3, deadLetters: 1 })
})

t.test('tells when another connection changed the database', async (t) => {
  const dir = t.testdir()
  const inbox = new Inbox(openDatabase(dir), { dedupWindowMs: 1000 })
  t.teardown(() => inbox.close())
  t.equal(inbox.changedElsewhere(), false, 'the first call only notes where it is')
  await inbox.add(newEvent(inbound('im_v2_message_add')))
  t.equal(inbox.changedElsewhere(), false, 'its own commits do not count')
  const other = openDatabase(dir)
  other.prepare("INSERT INTO meta (key, value) VALUES ('by', 'another process')").run()
  other.close()
  t.equal(inbox.changedElsewhere(), true)
  t.equal(inbox.changedElsewhere(), false)
})

t.test('keeps dead letters, with or without an event, and never their credentials', async (t) => {
  const inbox = open(t)
  const input = inbound('imbot_v2_message_add_webhook')
  await inbox.add(newEvent(input))
  inbox.bury(inbox.pending()[0]?.id as number, 8, 'Error: handler down')
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
  const woken: unknown[] = []
  inbox.onAdded((added) => woken.push(...added))
  inbox.revive(letters[0]?.id as number, letters[0]?.event as InboundEvent['event'], null)
  t.match(woken, [{ id: letters[0]?.id, chatKey: 'chat:bac1cd5c8940947a75e0d71b1a84e348:5' }], 'a revived event rejoins its chat')
  t.same([inbox.load(letters[0]?.id as number)].map((item) => [item?.inbound.event.type, item?.attempts]), [['ONIMBOTV2MESSAGEADD', 0]])
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
  // What a broken disk would do to a commit.
  db.exec("CREATE TRIGGER broken BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
  const input = inbound('capture_imbot_v2_message_add_2026_09_16')
  await t.rejects(inbox.add(newEvent(input)), { name: 'InboxUnavailableError', statusCode: 503, message: 'the inbox cannot store events now' })
  t.equal(inbox.writable, false)
  t.equal(inbox.stats().depth, 0, 'nothing half-stored')
  t.equal(await inbox.add(newEvent(inbound('imbot_v2_delete_webhook'))).catch(() => 'refused'), 'refused')
  inbox.close()
})
