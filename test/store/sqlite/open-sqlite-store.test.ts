import t from 'tap'
import { Credentials } from '../../../src/event/credentials.ts'
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.ts'
import { eventually } from '../../helpers.ts'
import { claimTexts, CREDENTIALS, newRecord, openStore, otherConnection, PORTAL, textOf } from './sqlite-fixture.ts'

t.test('stores a record and hands it back whole, credentials included, here and after a restart', async (t) => {
  const store = openStore(t)
  const before = Date.now()
  t.equal(await store.append(newRecord(1, 'hello')), true)
  const expected = {
    key: 'hook:1:hello',
    chatKey: 'chat:1',
    type: 'ONIMV2MESSAGEADD',
    source: 'webhook',
    portal: PORTAL,
    handlerId: 42,
    bodyKind: 'event',
    body: '{"text":"hello"}',
    credentials: CREDENTIALS.serialize(),
    attempts: 0,
  }
  const [stored] = await store.queue.claim(10)
  t.match(stored, { ...expected, id: Number })
  t.ok((stored?.receivedAt as number) >= before && (stored?.receivedAt as number) <= Date.now())
  t.same(Credentials.parse(stored?.credentials as string).bot, { access_token: 'secret-bot' })
  await store.close()

  const reopened = openStore(t, { dataDir: store.dataDir })
  t.same(await reopened.queue.claim(10), [stored], 'read back from the database as it was handed out')
})

t.test('a record that failed to decode goes straight to the dead letter', async (t) => {
  const store = openStore(t)
  const rejected = newRecord('bad', 'payload', { bodyKind: 'payload', source: 'poll', handlerId: null, error: 'ONIMV2MESSAGEADD does not match its schema' })
  t.equal(await store.append(rejected), true)
  t.equal(await store.append(rejected), false, 'a double delivery is kept once')
  t.same(await store.queue.claim(10), [], 'nothing to handle')
  t.match(await store.deadLetters.list(), [{ attempts: 0, error: 'ONIMV2MESSAGEADD does not match its schema', source: 'poll', bodyKind: 'payload', body: { text: 'payload' } }])
  t.match(await store.stats(), { depth: 0, deadLetters: 1 })
})

t.test('stores a double delivery once, however close or late the second comes', async (t) => {
  const store = openStore(t)
  t.same(await Promise.all([store.append(newRecord(1, 'twin')), store.append(newRecord(1, 'twin'))]), [true, false], 'in the same turn')
  t.equal(await store.append(newRecord(1, 'twin')), false, 'or a turn later')
  t.equal(await store.append(newRecord(1, 'edited')), true, 'another key is another event')
  for (const record of await store.queue.claim(10)) await store.queue.complete(record.id)
  t.equal(await store.append(newRecord(1, 'twin')), false, 'a handled record keeps its key for the dedup window')
  t.same(await claimTexts(store), ['edited'])
})

t.test('the appends of one turn are one commit: one that cannot be written fails them all', async (t) => {
  const store = openStore(t)
  otherConnection(t, store.dataDir).exec("CREATE TRIGGER broken BEFORE INSERT ON events WHEN NEW.key = 'hook:2:bad' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
  const failure = { name: 'StoreUnavailableError', statusCode: 503, message: 'the inbox cannot store events now' }
  const good = store.append(newRecord(1, 'good'))
  const bad = store.append(newRecord(2, 'bad'))
  await t.rejects(good, failure)
  await t.rejects(bad, failure)
  t.equal(store.unavailable(), 'the inbox cannot be written')
  t.match(await store.stats(), { depth: 0 }, 'nothing half-stored')
  t.same(await store.queue.claim(10), [])
  t.equal(await store.append(newRecord(1, 'good')), true, 'the next turn is another commit')
  t.equal(store.unavailable(), null, 'writable again')
  t.same(await claimTexts(store), ['good'])
})

t.test('forgets the key of a handled record once its dedup window is over', async (t) => {
  const store = openStore(t, { dedupWindowMs: 0, purgeIntervalMs: 5 })
  const db = otherConnection(t, store.dataDir)
  await store.append(newRecord(1, 'once'))
  const [record] = await store.queue.claim(10)
  await store.queue.complete(record?.id as number)
  const keys = () => db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }
  await eventually(() => keys().n === 0)
  t.equal(await store.append(newRecord(1, 'once')), true, 'the same key is a new event now')
})

t.test('keeps the key of a handled record through the purges of its dedup window', async (t) => {
  const store = openStore(t, { dedupWindowMs: 60000, purgeIntervalMs: 5 })
  const db = otherConnection(t, store.dataDir)
  await store.append(newRecord(1, 'kept'))
  const [record] = await store.queue.claim(10)
  await store.queue.complete(record?.id as number)
  // A key whose window ended long ago, to see a purge go by.
  db.prepare("INSERT INTO events (status, key, type, received_at, next_at, expires_at) VALUES ('done', 'old', 'T', 0, 0, 1)").run()
  const old = () => db.prepare("SELECT COUNT(*) AS n FROM events WHERE key = 'old'").get() as { n: number }
  await eventually(() => old().n === 0)
  t.equal(await store.append(newRecord(1, 'kept')), false, 'a purge went by, and the key is still known')
})

t.test('a purge that cannot be written is tried again at the next interval', async (t) => {
  const store = openStore(t, { dedupWindowMs: 0, purgeIntervalMs: 5 })
  const db = otherConnection(t, store.dataDir)
  db.exec("CREATE TRIGGER broken BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
  await store.append(newRecord(1, 'once'))
  const [record] = await store.queue.claim(10)
  await store.queue.complete(record?.id as number)
  await eventually(() => store.unavailable() !== null)
  t.equal(store.unavailable(), 'the inbox cannot be written', 'a failed purge says so, and throws nowhere')
  db.exec('DROP TRIGGER broken')
  await eventually(() => store.unavailable() === null)
  t.equal(await store.append(newRecord(1, 'once')), true, 'the next purge forgot the key')
})

t.test('tells its figures: depth, the oldest pending age, retries, dead letters', async (t) => {
  const store = openStore(t)
  t.same(await store.stats(), { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0 })
  const before = Date.now()
  await store.append(newRecord(1, 'a'))
  await store.append(newRecord(2, 'b'))
  await store.append(newRecord(3, 'c'))
  const [a, b] = await store.queue.claim(2)
  await store.queue.retry(a?.id as number, 1, Date.now() + 60000, 'Error: boom')
  await store.queue.bury(b?.id as number, 3, 'Error: boom')
  const stats = await store.stats()
  t.match(stats, { depth: 2, retrying: 1, deadLetters: 1 })
  t.ok(stats.oldestPendingAgeMs !== null && stats.oldestPendingAgeMs >= 0 && stats.oldestPendingAgeMs <= Date.now() - before)
})

t.test('closing commits what is waiting, and a closed store refuses to store', async (t) => {
  const store = openStore(t)
  const waiting = store.append(newRecord(1, 'queued at close'))
  await store.close()
  t.equal(await waiting, true)
  await store.close() // twice is fine
  await t.rejects(store.append(newRecord(1, 'after')), { name: 'StoreUnavailableError', statusCode: 503 })
  const reopened = openStore(t, { dataDir: store.dataDir })
  t.same(await claimTexts(reopened), ['queued at close'])
})

t.test('opens with its defaults, and refuses to open where it cannot', async (t) => {
  const dataDir = t.testdir({ 'inbox.db': 'not a database, just text long enough to have a header of sorts' })
  t.throws(() => openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 1000 }), { name: 'StoreUnavailableError', message: /is not a readable SQLite database/ })
  const store = openSqliteStore({ dataDir: t.testdir(), durability: 'power', dedupWindowMs: 1000 })
  t.teardown(() => store.close())
  t.equal(await store.append(newRecord(1, 'x')), true)
  t.same((await store.queue.claim(1)).map(textOf), ['x'])
})
