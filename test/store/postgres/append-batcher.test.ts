import pg from 'pg'
import t, { type Test } from 'tap'
import { AppendBatcher } from '../../../src/store/postgres/append-batcher.ts'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { eventually } from '../../helpers.ts'
import { eavesdrop, newRecord, sql, testDatabase } from './postgres-fixture.ts'

async function batcherOn(t: Test) {
  const url = await testDatabase(t)
  const db = new PostgresDatabase({ connectionString: url })
  t.teardown(() => db.pool.end())
  await db.ready()
  return { url, db, batcher: new AppendBatcher(db) }
}

/** The stored rows in id order: their text and the transaction that inserted them. */
const rows = async (url: string) =>
  (await sql<{ body: string; xmin: string }>(url, 'SELECT body, xmin::text FROM b24_inbox ORDER BY id')).map((row) => ({ text: (JSON.parse(row.body) as { text: string }).text, xmin: row.xmin }))

t.test('the appends of one turn are one insert, committed before any resolves, in the order they came, and one notification', async (t) => {
  const { url, batcher } = await batcherOn(t)
  const listener = await eavesdrop(t, url)
  // Another session holds the table: the insert waits for it, and none of the appends may resolve meanwhile.
  const locker = new pg.Client({ connectionString: url })
  await locker.connect()
  t.teardown(() => locker.end())
  await locker.query('BEGIN')
  await locker.query('LOCK TABLE b24_inbox IN EXCLUSIVE MODE')
  const texts = ['a', 'b', 'c', 'd', 'e']
  const resolved: string[] = []
  const appends = Promise.all(texts.map((text, i) => batcher.append(newRecord(i % 2, text)).then(() => void resolved.push(text))))
  await eventually(async () => (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO b24_inbox%'"))[0]?.n === 1)
  // What was already answered is answered by now: the insert was sent before it waited.
  await new Promise((resolve) => setImmediate(resolve))
  t.same(resolved, [], 'the insert is under way, not committed: no append has resolved')
  await locker.query('COMMIT')
  await appends
  t.same(resolved, texts, 'each resolves once committed')
  const stored = await rows(url)
  t.same(stored.map((row) => row.text), texts, 'ids ascend with the appends')
  t.equal(new Set(stored.map((row) => row.xmin)).size, 1, 'one transaction')
  await eventually(() => listener.heard() === 1)
  await batcher.append(newRecord(1, 'f'))
  t.equal(new Set((await rows(url)).map((row) => row.xmin)).size, 2, 'the next turn is another insert')
  await eventually(() => listener.heard() === 2)
})

t.test('a turn of more than 256 appends goes in several inserts, one after the other, every one stored in order', async (t) => {
  const { url, batcher } = await batcherOn(t)
  const texts = Array.from({ length: 1100 }, (_, i) => `m${i}`)
  await Promise.all(texts.map((text) => batcher.append(newRecord(1, text))))
  const stored = await rows(url)
  t.same(stored.map((row) => row.text), texts)
  const inserts = new Map<string, number>()
  for (const row of stored) inserts.set(row.xmin, (inserts.get(row.xmin) ?? 0) + 1)
  t.same([...inserts.values()], [256, 256, 256, 256, 76], 'five inserts of 256 at most')
})

t.test('an insert that fails rejects every append of its batch with StoreUnavailableError, and stores none of them', async (t) => {
  const { url, db, batcher } = await batcherOn(t)
  await sql(url, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
    CREATE TRIGGER refuse BEFORE INSERT ON b24_inbox FOR EACH ROW WHEN (NEW.body = '{"text":"bad"}') EXECUTE FUNCTION refuse()`)
  const good = batcher.append(newRecord(1, 'good'))
  const bad = batcher.append(newRecord(2, 'bad'))
  const failure = { name: 'StoreUnavailableError', statusCode: 503, message: 'the inbox cannot store events now', cause: { message: 'disk full' } }
  await t.rejects(good, failure)
  await t.rejects(bad, failure)
  t.same(await rows(url), [], 'nothing half-stored')
  t.match(db.failure, /disk full/)
  await batcher.append(newRecord(1, 'good'))
  t.same((await rows(url)).map((row) => row.text), ['good'], 'the next turn is stored')
  t.equal(db.failure, null)
})

t.test('drains: what waits is sent at once, and it resolves once every insert is done', async (t) => {
  const { url, batcher } = await batcherOn(t)
  await batcher.drain()
  t.pass('nothing waiting: at once')
  const appends = Array.from({ length: 600 }, (_, i) => batcher.append(newRecord(1, `m${i}`)))
  await batcher.drain()
  t.same(await sql(url, 'SELECT count(*)::int AS n FROM b24_inbox'), [{ n: 600 }])
  await Promise.all(appends)
})

t.test('appends made while an insert is under way wait for the next: ids and commits keep the order of the appends', async (t) => {
  const { url, batcher } = await batcherOn(t)
  const texts: string[] = []
  const appends: Array<Promise<void>> = []
  // One chat, an append a turn: each waits for the insert before it.
  for (let i = 0; i < 30; i++) {
    texts.push(`m${i}`)
    appends.push(batcher.append(newRecord(1, `m${i}`)))
    await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(appends)
  const stored = await rows(url)
  t.same(stored.map((row) => row.text), texts)
  const commits = stored.map((row) => Number(row.xmin))
  t.same(commits, [...commits].sort((x, y) => x - y), 'a later record never committed before an earlier one')
  t.ok(new Set(commits).size < 30, `${new Set(commits).size} inserts for 30 appends: those that waited went together`)
})
