import t from 'tap'
import { Credentials } from '../../../src/event/credentials.ts'
import { claimTexts, CREDENTIALS, newRecord, openStore, otherConnection, PORTAL, textOf } from './sqlite-fixture.ts'

/** A store holding a record that kept failing its handlers and one that failed to decode. */
async function withDeadLetters(t: Parameters<typeof openStore>[0]) {
  const store = openStore(t)
  await store.append(newRecord(1, 'handler down'))
  const [failed] = await store.queue.claim(10)
  await store.queue.bury(failed?.id as number, 8, 'Error: handler down')
  await store.append(newRecord('x', 'undecodable', { bodyKind: 'payload', handlerId: null, type: 'ONIMV2MESSAGEADD', error: '/data/message/id: must be integer' }))
  return { store, failed: failed as NonNullable<typeof failed> }
}

t.test('lists dead letters, with their event or payload, never their credentials', async (t) => {
  const { store, failed } = await withDeadLetters(t)
  const letters = await store.deadLetters.list()
  t.match(letters, [
    { id: failed.id, type: 'ONIMV2MESSAGEADD', attempts: 8, error: 'Error: handler down', source: 'webhook', portal: PORTAL, bodyKind: 'event', body: { text: 'handler down' } },
    { type: 'ONIMV2MESSAGEADD', attempts: 0, error: '/data/message/id: must be integer', bodyKind: 'payload', body: { text: 'undecodable' } },
  ])
  t.equal(letters[0]?.receivedAt, new Date(failed.receivedAt).toISOString())
  t.same(Object.keys(letters[0] as object).sort(), ['attempts', 'body', 'bodyKind', 'error', 'id', 'portal', 'receivedAt', 'source', 'type'])
  t.notOk(JSON.stringify(letters).includes('secret'), 'no credential in what is printed')
  t.same(await store.deadLetters.get(letters[1]?.id as number), letters[1])
  t.equal(await store.deadLetters.get(999), null)
  await store.append(newRecord(2, 'pending'))
  const [pending] = await store.queue.claim(10)
  t.same(await store.deadLetters.list(), letters, 'a pending record is no dead letter')
  t.equal(await store.deadLetters.get(pending?.id as number), null)
  t.equal(await store.deadLetters.record(pending?.id as number), null)
  t.match(await store.stats(), { deadLetters: 2 })
})

t.test('a form kept as it came is listed as its text, and revived as an event', async (t) => {
  const store = openStore(t)
  const form = 'event=ONIMBOTV2MESSAGEADD&data%5Bmessage%5D%5Btext%5D=hi'
  await store.append(newRecord('x', 'form', { bodyKind: 'form', body: form, error: 'too many pairs' }))
  const [letter] = await store.deadLetters.list()
  t.match(letter, { bodyKind: 'form', body: form, error: 'too many pairs' })
  t.match(await store.deadLetters.record(letter?.id as number), { bodyKind: 'form', body: form })
  await store.deadLetters.revive(letter?.id as number, { chatKey: 'chat:5', bodyKind: 'event', body: '{"text":"hi"}' })
  t.match(await store.queue.claim(10), [{ bodyKind: 'event', body: '{"text":"hi"}', chatKey: 'chat:5' }])
})

t.test('gives a dead letter whole, credentials included, for a replay', async (t) => {
  const { store, failed } = await withDeadLetters(t)
  const record = await store.deadLetters.record(failed.id)
  t.same(record, { ...failed, attempts: 8 })
  t.same(Credentials.parse(record?.credentials as string).bot, CREDENTIALS.bot)
  const [, undecodable] = await store.deadLetters.list()
  t.match(await store.deadLetters.record(undecodable?.id as number), { bodyKind: 'payload', body: '{"text":"undecodable"}', chatKey: 'chat:x', credentials: CREDENTIALS.serialize() })
  t.equal(await store.deadLetters.record(999), null)
})

t.test('revives a dead letter: back in line, attempts reset, with its new body and chat', async (t) => {
  const { store } = await withDeadLetters(t)
  const [, undecodable] = await store.deadLetters.list()
  const id = undecodable?.id as number
  let told = 0
  store.queue.onAvailable(() => told++)
  await store.deadLetters.revive(id, { chatKey: 'chat:7', bodyKind: 'event', body: '{"text":"decoded"}' })
  t.equal(told, 1, 'the queue says so')
  t.match(await store.queue.claim(10), [{ id, chatKey: 'chat:7', bodyKind: 'event', body: '{"text":"decoded"}', attempts: 0, credentials: CREDENTIALS.serialize() }])
  t.equal(await store.deadLetters.get(id), null)
  t.match(await store.stats(), { depth: 1, deadLetters: 1 })
  await store.deadLetters.revive(999, { chatKey: 'chat:7', bodyKind: 'event', body: '{}' })
  t.equal(told, 1, 'no dead letter with that id: nothing rejoins')
  t.match(await store.stats(), { depth: 1, deadLetters: 1 })
})

t.test('a revived dead letter rejoins its chat in its arrival place, even while the chat is busy', async (t) => {
  const store = openStore(t)
  await store.append(newRecord(1, 'A'))
  const [a] = await store.queue.claim(10)
  await store.queue.bury(a?.id as number, 1, 'Error: down')
  await store.append(newRecord(1, 'B'))
  await store.append(newRecord(1, 'C'))
  await store.append(newRecord(1, 'D'))
  const [b] = await store.queue.claim(10)
  t.equal(textOf(b as NonNullable<typeof b>), 'B')
  await store.deadLetters.revive(a?.id as number, a as NonNullable<typeof a>)
  t.same(await claimTexts(store), [], 'B still runs')
  // B fails while A waits ahead of it: B keeps its own place.
  await store.queue.retry(b?.id as number, 1, Date.now(), 'Error: boom')
  const order: string[] = []
  for (let claimed = await store.queue.claim(10); claimed.length > 0; claimed = await store.queue.claim(10)) {
    for (const record of claimed) {
      order.push(`${textOf(record)}#${record.attempts}`)
      await store.queue.complete(record.id)
    }
  }
  t.same(order, ['A#0', 'B#1', 'C#0', 'D#0'], 'A, older than B, C and D, first; then B with its attempt; then C and D')
})

t.test('a revive that cannot be committed rejects, and the dead letter stays dead', async (t) => {
  const { store, failed } = await withDeadLetters(t)
  otherConnection(t, store.dataDir).exec("CREATE TRIGGER broken BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
  await t.rejects(store.deadLetters.revive(failed.id, failed), { name: 'StoreUnavailableError' })
  t.same(await store.queue.claim(10), [])
  t.match(await store.deadLetters.get(failed.id), { attempts: 8 })
})

t.test('drops a dead letter for good', async (t) => {
  const { store, failed } = await withDeadLetters(t)
  t.equal(await store.deadLetters.drop(failed.id), true)
  t.equal(await store.deadLetters.drop(failed.id), false, 'once')
  t.equal(await store.deadLetters.get(failed.id), null)
  t.equal((await store.deadLetters.list()).length, 1)
  await store.append(newRecord(2, 'pending'))
  const [pending] = await store.queue.claim(10)
  t.equal(await store.deadLetters.drop(pending?.id as number), false, 'never a pending record')
  t.match(await store.stats(), { depth: 1, deadLetters: 1 })
})
