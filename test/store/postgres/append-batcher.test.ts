import pg from 'pg'
import t, { type Test } from 'tap'
import { AppendBatcher } from '../../../src/store/postgres/append-batcher.ts'
import { PostgresCandidates } from '../../../src/store/postgres/postgres-candidates.ts'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { eventually } from '../../helpers.ts'
import { newCandidate } from '../candidates-contract.ts'
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
  await eventually(async () => (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO b24_inbox%'"))[0]?.n === 1)
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

// Two replicas: two databases' pools on one PostgreSQL database, each with its own batcher.
async function replicasOn(t: Test) {
  const url = await testDatabase(t)
  const [one, two] = [new PostgresDatabase({ connectionString: url }), new PostgresDatabase({ connectionString: url })]
  t.teardown(() => Promise.all([one.end(), two.end()]))
  await one.ready()
  return { url, one, two }
}

/**
 * Another session that holds a gate (an advisory lock in the two-key space, apart from the chats'),
 * and a trigger that makes the insert of the record `{ text }` wait at the gate: after its id was
 * taken (the column default, before the row's triggers), before its commit.
 */
async function gate(t: Test, url: string, text: string) {
  await sql(url, `CREATE FUNCTION wait_at_gate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(7, 7); RETURN NEW; END $$;
    CREATE TRIGGER wait_at_gate BEFORE INSERT ON b24_inbox FOR EACH ROW WHEN (NEW.body = '${JSON.stringify({ text })}') EXECUTE FUNCTION wait_at_gate()`)
  const keeper = new pg.Client({ connectionString: url })
  await keeper.connect()
  t.teardown(() => keeper.end())
  await keeper.query('SELECT pg_advisory_lock(7, 7)')
  return { open: () => keeper.query('SELECT pg_advisory_unlock(7, 7)') }
}

/** Sessions of this database waiting for an advisory lock: the gate's or a chat's. */
const waitingForLocks = async (url: string) =>
  (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'"))[0]?.n

/** The committed rows in id order, as a claim would see them. */
const committed = async (url: string) =>
  (await sql<{ id: number; body: string }>(url, 'SELECT id, body FROM b24_inbox ORDER BY id')).map((row) => ({ id: Number(row.id), text: (JSON.parse(row.body) as { text: string }).text }))

t.test("one chat's appends on two replicas at once: the later id is never committed while the earlier is not, in the order their inserts took the chat", async (t) => {
  const { url, one, two } = await replicasOn(t)
  const gates = await gate(t, url, 'first')
  // The first took its id and waits before its commit.
  const first = new AppendBatcher(one).append(newRecord(1, 'first'))
  await eventually(async () => (await waitingForLocks(url)) === 1)
  // The second, on the other replica: without the chat's lock it would take the next id and commit at once.
  const second = new AppendBatcher(two).append(newRecord(1, 'second'))
  await eventually(async () => (await waitingForLocks(url)) === 2 || (await committed(url)).length > 0)
  t.same(await committed(url), [], 'the second waits for the chat: nothing committed, no id taken')
  t.equal(await waitingForLocks(url), 2)
  await gates.open()
  await Promise.all([first, second])
  t.same((await committed(url)).map((row) => row.text), ['first', 'second'], 'ids in the order the inserts took the chat')
})

t.test('another chat is not held up: its append commits while one chat waits', async (t) => {
  const { url, one, two } = await replicasOn(t)
  const gates = await gate(t, url, 'first')
  const first = new AppendBatcher(one).append(newRecord(1, 'first'))
  await eventually(async () => (await waitingForLocks(url)) === 1)
  await new AppendBatcher(two).append(newRecord(2, 'other chat'))
  t.same((await committed(url)).map((row) => row.text), ['other chat'])
  await gates.open()
  await first
})

t.test('two batches of the same chats, listed in opposite orders, take their locks in one order: neither deadlocks', async (t) => {
  const { url, one, two } = await replicasOn(t)
  // The chat whose lock comes first, and the other.
  const hashes = await sql<{ key: string }>(url, "SELECT key FROM (VALUES ('chat:1'), ('chat:2')) AS k (key) ORDER BY hashtextextended(key, 0)")
  const [low, high] = hashes.map((row) => row.key.slice('chat:'.length)) as [string, string]
  // Another session holds the first chat: both batches wait for it.
  const keeper = new pg.Client({ connectionString: url })
  await keeper.connect()
  t.teardown(() => keeper.end())
  await keeper.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`chat:${low}`])
  // Taken in the order listed, the first would wait for low holding nothing, the second hold high
  // while it waits for low: given low, the first waits for high, a deadlock (one of them aborted).
  const lowFirst = new AppendBatcher(one)
  const batch = Promise.all([lowFirst.append(newRecord(low, 'a1')), lowFirst.append(newRecord(high, 'a2'))])
  await eventually(async () => (await waitingForLocks(url)) === 1)
  const highFirst = new AppendBatcher(two)
  const other = Promise.all([highFirst.append(newRecord(high, 'b1')), highFirst.append(newRecord(low, 'b2'))])
  await eventually(async () => (await waitingForLocks(url)) === 2)
  await keeper.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`chat:${low}`])
  await Promise.all([batch, other])
  t.same((await committed(url)).map((row) => row.text), ['a1', 'a2', 'b1', 'b2'], 'the first to wait goes first, then the other')
})

t.test("a confirmed candidate's events enter the inbox holding their chats: an append of one of them on another replica waits for its commit", async (t) => {
  const { url, one, two } = await replicasOn(t)
  const candidates = new PostgresCandidates(one)
  const added = await candidates.add(newCandidate('m1'), newRecord(1, 'held'), { perPortal: 3, total: 10 })
  const { id } = added as { id: number }
  const gates = await gate(t, url, 'held')
  const confirmed = candidates.confirm(id, null)
  await eventually(async () => (await waitingForLocks(url)) === 1)
  const after = new AppendBatcher(two).append(newRecord(1, 'after'))
  await eventually(async () => (await waitingForLocks(url)) === 2 || (await committed(url)).length > 0)
  t.same(await committed(url), [], 'the append waits for the chat')
  await gates.open()
  t.equal(await confirmed, true)
  await after
  t.same((await committed(url)).map((row) => row.text), ['held', 'after'], 'ids in the order they took the chat')
})
