import t, { type Test } from 'tap'
import type { ClaimedRecord } from '../../../src/store/store.ts'
import { unclaimed } from '../../fakes/new-record.ts'
import { claimTexts, newRecord, openStore, otherConnection, PORTAL, textOf } from './sqlite-fixture.ts'

const FORM = 'event=ONIMBOTV2MESSAGEADD&data%5BPARAMS%5D%5BMESSAGE%5D=hi'

/** A store holding a record that kept failing its handlers and a form that could not be decoded. */
async function withDeadLetters(t: Test) {
  const store = openStore(t)
  await store.append(newRecord(1, 'handler down', { credentials: 'v1.sealed-secret' }))
  await store.append(newRecord('x', 'form', { bodyKind: 'form', body: FORM, source: 'webhook' }))
  const [failed, form] = (await store.queue.claim(10)) as [ClaimedRecord, ClaimedRecord]
  await store.queue.bury(failed, 8, 'Error: handler down')
  await store.queue.bury(form, 1, 'FORM_TOO_LARGE: more than 10 pairs')
  return { store, failed, form }
}

t.test('lists dead letters, with their body (JSON parsed, a form as its text), never their credentials', async (t) => {
  const { store, failed, form } = await withDeadLetters(t)
  const letters = await store.deadLetters.list()
  t.same(letters, [
    { id: failed.id, type: 'ONIMV2MESSAGEADD', receivedAt: new Date(failed.receivedAt).toISOString(), attempts: 8, error: 'Error: handler down', source: 'webhook', portal: PORTAL, bodyKind: 'payload', body: { text: 'handler down' } },
    { id: form.id, type: 'ONIMV2MESSAGEADD', receivedAt: new Date(form.receivedAt).toISOString(), attempts: 1, error: 'FORM_TOO_LARGE: more than 10 pairs', source: 'webhook', portal: PORTAL, bodyKind: 'form', body: FORM },
  ])
  t.notOk(JSON.stringify(letters).includes('sealed'), 'no credential in what is printed')
  t.same(await store.deadLetters.get(form.id), letters[1])
  t.equal(await store.deadLetters.get(999), null)
  await store.append(newRecord(2, 'pending'))
  const [pending] = (await store.queue.claim(10)) as [ClaimedRecord]
  t.same(await store.deadLetters.list(), letters, 'a pending record is no dead letter')
  t.equal(await store.deadLetters.get(pending.id), null)
  t.equal(await store.deadLetters.record(pending.id), null)
  t.match(await store.stats(), { depth: 1, deadLetters: 2 })
})

t.test('gives a dead letter whole, sealed credentials included, for a replay', async (t) => {
  const { store, failed, form } = await withDeadLetters(t)
  t.same(await store.deadLetters.record(failed.id), { ...unclaimed(failed), attempts: 8 })
  t.same(await store.deadLetters.record(form.id), { ...unclaimed(form), attempts: 1 })
  t.equal((await store.deadLetters.record(failed.id))?.credentials, 'v1.sealed-secret')
  t.equal(await store.deadLetters.record(999), null)
})

t.test('revives a dead letter as it was stored: back in line, attempts reset', async (t) => {
  const { store, form } = await withDeadLetters(t)
  let told = 0
  store.queue.onAvailable(() => told++)
  await store.deadLetters.revive(form.id)
  t.equal(told, 1, 'the queue says so')
  t.same((await store.queue.claim(10)).map(unclaimed), [{ ...unclaimed(form), attempts: 0 }], 'its chat, body, kind and credentials as they came')
  t.equal(await store.deadLetters.get(form.id), null)
  t.match(await store.stats(), { depth: 1, retrying: 0, deadLetters: 1 })
  await store.deadLetters.revive(999)
  await store.deadLetters.revive(form.id)
  t.equal(told, 1, 'no dead letter with that id (or no longer): nothing rejoins')
  t.match(await store.stats(), { depth: 1, deadLetters: 1 })
})

t.test('a revived dead letter rejoins its chat in its arrival place, even while the chat is busy', async (t) => {
  const store = openStore(t)
  await store.append(newRecord(1, 'A'))
  const [a] = (await store.queue.claim(10)) as [ClaimedRecord]
  await store.queue.bury(a, 1, 'Error: down')
  await store.append(newRecord(1, 'B'))
  await store.append(newRecord(1, 'C'))
  await store.append(newRecord(1, 'D'))
  const [b] = (await store.queue.claim(10)) as [ClaimedRecord]
  t.equal(textOf(b), 'B')
  await store.deadLetters.revive(a.id)
  t.same(await claimTexts(store), [], 'B still runs')
  t.match(await store.stats(), { depth: 4, deadLetters: 0 })
  // B fails while A waits ahead of it: B keeps its own place.
  await store.queue.retry(b, 1, Date.now(), 'Error: boom')
  const order: string[] = []
  for (let claimed = await store.queue.claim(10); claimed.length > 0; claimed = await store.queue.claim(10)) {
    for (const record of claimed) {
      order.push(`${textOf(record)}#${record.attempts}`)
      await store.queue.complete(record, null)
    }
  }
  t.same(order, ['A#0', 'B#1', 'C#0', 'D#0'], 'A, older than B, C and D, first; then B with its attempt; then C and D')
})

t.test('a revive that cannot be committed rejects, and the dead letter stays dead', async (t) => {
  const { store, failed } = await withDeadLetters(t)
  otherConnection(t, store.dataDir).exec("CREATE TRIGGER broken BEFORE UPDATE ON inbox BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
  await t.rejects(store.deadLetters.revive(failed.id), { name: 'StoreUnavailableError' })
  t.same(await store.queue.claim(10), [])
  t.match(await store.deadLetters.get(failed.id), { attempts: 8 })
  t.match(await store.stats(), { depth: 0, deadLetters: 2 })
})

t.test('drops a dead letter for good', async (t) => {
  const { store, failed } = await withDeadLetters(t)
  t.equal(await store.deadLetters.drop(failed.id), true)
  t.equal(await store.deadLetters.drop(failed.id), false, 'once')
  t.equal(await store.deadLetters.get(failed.id), null)
  t.equal(await store.deadLetters.record(failed.id), null)
  t.equal((await store.deadLetters.list()).length, 1)
  await store.append(newRecord(2, 'pending'))
  const [pending] = (await store.queue.claim(10)) as [ClaimedRecord]
  t.equal(await store.deadLetters.drop(pending.id), false, 'never a pending record')
  t.match(await store.stats(), { depth: 1, deadLetters: 1 })
})
