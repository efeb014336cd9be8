import t from 'tap'
import type { ClaimedRecord } from '../../../src/store/store.ts'
import { eventually } from '../../helpers.ts'
import { unclaimed } from '../../fakes/new-record.ts'
import { claimTexts, drain, newRecord, nextClaim, openStore, otherConnection, textOf } from './sqlite-fixture.ts'

t.test('hands out the oldest record of each chat nobody holds, oldest first, up to the limit', async (t) => {
  const store = openStore(t)
  for (const [chat, text] of [[1, 'a1'], [2, 'b1'], [1, 'a2'], [3, 'c1'], [2, 'b2']] as const) await store.append(newRecord(chat, text))
  t.same(await claimTexts(store, 2), ['a1', 'b1'], 'the limit')
  t.same(await claimTexts(store), ['c1'], 'a held chat hands out nothing else')
  t.same(await claimTexts(store), [])
  t.same(await store.queue.claim(0), [])
})

t.test('across chats the oldest record comes first, whatever order the chats came in', async (t) => {
  const store = openStore(t)
  await store.append(newRecord(1, 'A'))
  const [a] = await store.queue.claim(10)
  await store.queue.bury(a as ClaimedRecord, 1, 'Error: down')
  await store.append(newRecord(2, 'B'))
  // A's chat comes back after B's, with a record older than B.
  await store.deadLetters.revive(a?.id as number)
  t.same(await claimTexts(store, 1), ['A'])
  t.same(await claimTexts(store, 1), ['B'])
})

t.test('a chat is handed its next record once the one held is complete, retried or buried', async (t) => {
  const store = openStore(t)
  for (const [chat, text] of [[1, 'a1'], [1, 'a2'], [2, 'b1'], [2, 'b2'], [3, 'c1'], [3, 'c2']] as const) await store.append(newRecord(chat, text))
  const [a1, b1, c1] = await store.queue.claim(10)
  await store.queue.complete(a1 as ClaimedRecord, 'hook:a1')
  t.same(await claimTexts(store), ['a2'])
  await store.queue.bury(b1 as ClaimedRecord, 3, 'Error: boom')
  t.same(await claimTexts(store), ['b2'])
  await store.queue.retry(c1 as ClaimedRecord, 1, Date.now() + 60000, 'Error: boom')
  t.same(await claimTexts(store), [], 'a retry not due yet keeps its place at the head of its chat')
  t.match(await store.stats(), { depth: 4, retrying: 1, deadLetters: 1 })
})

t.test('a retry is claimable when due, with its attempts, and the queue says so then', async (t) => {
  // Nothing else wakes it: not the poll interval.
  const store = openStore(t, { pollIntervalMs: 60000 })
  await store.append(newRecord(1, 'flaky'))
  const [record] = (await store.queue.claim(10)) as [ClaimedRecord]
  const nextAt = Date.now() + 30
  await store.queue.retry(record, 1, nextAt, 'Error: boom')
  t.same(await store.queue.claim(10), [])
  const [again] = await nextClaim(store)
  t.ok(Date.now() >= nextAt, 'not before it is due')
  t.same(unclaimed(again as ClaimedRecord), { ...unclaimed(record), attempts: 1 }, 'read back, as it was stored')
})

t.test('remembers the key of a handled record for the dedup window: seen, then not', async (t) => {
  const store = openStore(t, { dedupWindowMs: 200 })
  for (const text of ['a', 'b', 'c']) await store.append(newRecord(1, text))
  t.equal(await store.queue.seen('hook:a'), false, 'nothing handled yet')
  const [a] = (await store.queue.claim(10)) as [ClaimedRecord]
  const completedAt = Date.now()
  await store.queue.complete(a, 'hook:a')
  t.equal(await store.queue.seen('hook:a'), true)
  t.equal(await store.queue.seen('hook:b'), false, 'another key is another event')
  const [b] = (await store.queue.claim(10)) as [ClaimedRecord]
  await store.queue.complete(b, null)
  t.equal(await store.queue.seen('null'), false, 'no key: nothing remembered')
  t.same(await claimTexts(store), ['c'], 'a completed record is gone from its line')

  // The same event handled again (a double delivery the worker did not recognise): its window starts again.
  const db = otherConnection(t, store.dataDir)
  const expiry = () => db.prepare("SELECT expires_at FROM seen WHERE key = 'hook:a'").pluck().get() as number
  const first = expiry()
  t.ok(first >= completedAt + 200 && first <= Date.now() + 200)
  await eventually(() => Date.now() > first - 150)
  await store.append(newRecord(2, 'a again'))
  const [again] = (await store.queue.claim(10)) as [ClaimedRecord]
  await store.queue.complete(again, 'hook:a')
  t.ok(expiry() > first, 'the window is renewed')
  t.equal(db.prepare('SELECT COUNT(*) FROM seen').pluck().get(), 1, 'one key')

  await eventually(async () => !(await store.queue.seen('hook:a')))
  t.ok(Date.now() >= expiry(), 'seen until its window is over, not after (the purge has not run: the minute default)')
  t.equal(db.prepare('SELECT COUNT(*) FROM seen').pluck().get(), 1, 'forgotten by the purge only')
})

t.test('remembers the keys handled before a restart', async (t) => {
  const first = openStore(t)
  await first.append(newRecord(1, 'a'))
  const [a] = (await first.queue.claim(10)) as [ClaimedRecord]
  await first.queue.complete(a, 'hook:a')
  await first.close()
  const store = openStore(t, { dataDir: first.dataDir })
  t.equal(await store.queue.seen('hook:a'), true)
  t.same(await store.queue.claim(10), [], 'and the record is gone')
})

t.test('reads what a previous run left pending, in order, and completes it', async (t) => {
  const first = openStore(t)
  for (const [chat, text] of [[1, 'a1'], [2, 'b1'], [1, 'a2']] as const) await first.append(newRecord(chat, text))
  const [a1] = await first.queue.claim(1)
  await first.queue.retry(a1 as ClaimedRecord, 2, Date.now(), 'Error: boom')
  await first.close()
  const store = openStore(t, { dataDir: first.dataDir })
  const claimed = await store.queue.claim(10)
  t.same(claimed.map(textOf), ['a1', 'b1'])
  t.match(claimed, [{ attempts: 2 }, { attempts: 0 }])
  for (const record of claimed) await store.queue.complete(record, null)
  t.same(await claimTexts(store), ['a2'])
})

t.test('a released record is claimable again as it was, and the queue says so', async (t) => {
  const store = openStore(t)
  let told = 0
  const unsubscribe = store.queue.onAvailable(() => told++)
  await store.append(newRecord(1, 'x'))
  t.equal(told, 1, 'told of a record stored')
  const [record] = (await store.queue.claim(10)) as [ClaimedRecord]
  await store.queue.release(record)
  t.equal(told, 2, 'told of a record released')
  const [again] = (await store.queue.claim(10)) as [ClaimedRecord]
  t.same(unclaimed(again), unclaimed(record))
  unsubscribe()
  await store.queue.release(again)
  t.equal(told, 2, 'not after unsubscribing')
})

t.test('an outcome that cannot be committed rejects, and leaves the record pending, claimable after release', async (t) => {
  const store = openStore(t)
  const db = otherConnection(t, store.dataDir)
  await store.append(newRecord(1, 'x'))
  await store.append(newRecord(1, 'next'))
  const [record] = (await store.queue.claim(10)) as [ClaimedRecord]
  db.exec(`
    CREATE TRIGGER broken_update BEFORE UPDATE ON inbox BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;
    CREATE TRIGGER broken_delete BEFORE DELETE ON inbox BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;`)
  const failure = { name: 'StoreUnavailableError', statusCode: 503 }
  await t.rejects(store.queue.complete(record, 'hook:x'), failure)
  await t.rejects(store.queue.retry(record, 1, Date.now(), 'Error: boom'), failure)
  await t.rejects(store.queue.bury(record, 1, 'Error: boom'), failure)
  t.equal(store.unavailable(), 'the inbox cannot be written')
  t.equal(await store.queue.seen('hook:x'), false, 'a failed complete remembers no key')
  t.same(await store.queue.claim(10), [], 'still held')
  await store.queue.release(record)
  const [again] = (await store.queue.claim(10)) as [ClaimedRecord]
  t.same(unclaimed(again), unclaimed(record), 'the same record, as it was')
  t.match(await store.stats(), { depth: 2, retrying: 0, deadLetters: 0 })
  db.exec('DROP TRIGGER broken_update; DROP TRIGGER broken_delete')
  await store.queue.complete(again, 'hook:x')
  t.same(await claimTexts(store), ['next'])
})

t.test('skips a record that is gone when its turn comes', async (t) => {
  const first = openStore(t)
  await first.append(newRecord(1, 'gone'))
  await first.append(newRecord(1, 'next'))
  await first.append(newRecord(2, 'other'))
  await first.close()
  const store = openStore(t, { dataDir: first.dataDir })
  // Dropped by another process since this one read its line.
  otherConnection(t, store.dataDir).prepare(`DELETE FROM inbox WHERE body = '{"text":"gone"}'`).run()
  t.same(await claimTexts(store), ['other'])
  t.same(await claimTexts(store), ['next'], 'its chat goes on')
  t.match(await store.stats(), { depth: 2 })
})

t.test('a record that cannot be read: the claim takes nothing, and the queue looks again after pollIntervalMs', async (t) => {
  const first = openStore(t)
  await first.append(newRecord(1, 'a'))
  await first.append(newRecord(2, 'b'))
  await first.close()
  const store = openStore(t, { dataDir: first.dataDir, pollIntervalMs: 20 })
  const db = otherConnection(t, store.dataDir)
  const b = `'{"text":"b"}'`
  const portal = db.prepare(`SELECT portal_json FROM inbox WHERE body = ${b}`).pluck().get() as string
  db.prepare(`UPDATE inbox SET portal_json = 'not JSON' WHERE body = ${b}`).run()
  await t.rejects(store.queue.claim(10), SyntaxError)
  db.prepare(`UPDATE inbox SET portal_json = ? WHERE body = ${b}`).run(portal)
  const claimed = await nextClaim(store, 10000)
  t.same(claimed.map(textOf), ['a', 'b'], 'nothing held by the failed claim')
})

t.test("notices another process's change within pollIntervalMs", async (t) => {
  const store = openStore(t, { pollIntervalMs: 20 })
  await store.append(newRecord(1, 'failed'))
  const [record] = await store.queue.claim(10)
  await store.queue.bury(record as ClaimedRecord, 3, 'Error: boom')
  // `dlq replay` in another process.
  const other = openStore(t, { dataDir: store.dataDir })
  // The claim arms the queue's wake-up; claiming at every wake-up (as the worker does) arms the next.
  // Armed at the start of an event-loop turn, whose clock its timer counts from.
  await new Promise((resolve) => setImmediate(resolve))
  const armedAt = performance.now()
  t.same(await store.queue.claim(10), [])
  const noticed = nextClaim(store, 10000)
  await other.deadLetters.revive(record?.id as number)
  const claimed = await noticed
  const delay = Math.round(performance.now() - armedAt)
  t.same(claimed.map(textOf), ['failed'])
  // At the default interval (1 s) no wake-up could have come before a second had passed.
  t.ok(delay < 1000, `noticed ${delay} ms after the wake-ups began, every 20 ms (the default interval is 1 s)`)
  await store.queue.complete(claimed[0] as ClaimedRecord, null)
  t.same(await drain(other), [], 'handled here: gone there too')
})

t.test('a long line is handed out whole and in order, past the records it keeps in memory', async (t) => {
  const store = openStore(t)
  // More than the queue keeps in memory: the rest are read back when their turn comes.
  const texts = Array.from({ length: 1100 }, (_, i) => `m${i}`)
  await Promise.all(texts.map((text) => store.append(newRecord(1, text))))
  const handled = await drain(store)
  t.same(handled.map(textOf), texts)
  t.ok(handled.every((record) => record.credentials === 'sealed-credentials' && record.attempts === 0))
})
