import pg from 'pg'
import t, { type Test } from 'tap'
import type { PostgresConnection } from '../../../src/store/postgres/postgres-connection.ts'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { eventually } from '../../helpers.ts'
import { proxied, sql, testDatabase } from './postgres-fixture.ts'

function database(t: Test, options: PostgresConnection) {
  const db = new PostgresDatabase(options)
  t.teardown(() => db.pool.end())
  return db
}

t.test('reads int8 (ids, epoch ms) as numbers, other types as pg does', async (t) => {
  const db = database(t, { connectionString: await testDatabase(t) })
  const [row] = await db.query<Record<string, unknown>>("SELECT 1700000000000::bigint AS big, 2::int AS small, 1.5::numeric AS exact, '2024-01-01T00:00:00Z'::timestamptz AS at")
  t.same(row, { big: 1700000000000, small: 2, exact: '1.5', at: new Date('2024-01-01T00:00:00Z') })
})

t.test('commits wait for the WAL flush, whatever the database default', async (t) => {
  const url = await testDatabase(t)
  await sql(url, `ALTER DATABASE ${new URL(url).pathname.slice(1)} SET synchronous_commit = off`)
  t.same(await sql(url, 'SHOW synchronous_commit'), [{ synchronous_commit: 'off' }], 'the default here')
  const db = database(t, { connectionString: url })
  t.same(await db.query('SHOW synchronous_commit'), [{ synchronous_commit: 'on' }])
})

t.test('its defaults: ten connections, five seconds to connect or answer (the server bounds a statement, the client waits a second longer); both settable', async (t) => {
  const url = await testDatabase(t)
  t.match(database(t, { connectionString: url }).pool.options, { max: 10, connectionTimeoutMillis: 5000, query_timeout: 6000, options: /-c statement_timeout=5000 -c idle_in_transaction_session_timeout=7000/ })
  t.match(database(t, { connectionString: url, poolSize: 3, timeoutMs: 700 }).pool.options, { max: 3, connectionTimeoutMillis: 700, query_timeout: 1700 })
})

t.test('a query that takes longer than timeoutMs fails, and the database counts as unavailable until one goes through', async (t) => {
  const db = database(t, { connectionString: await testDatabase(t), timeoutMs: 300 })
  t.equal(db.failure, null)
  await t.rejects(db.query('SELECT pg_sleep(2)'), { message: /timeout/ })
  t.match(db.failure, /^PostgreSQL cannot be used: .*timeout/)
  await db.query('SELECT 1')
  t.equal(db.failure, null)
})

t.test('unreachable at its first call: it migrates at the next one that reaches the database', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  const db = database(t, { connectionString: through })
  proxy.cut()
  await t.rejects(db.query('SELECT 1'))
  await t.rejects(db.ready())
  t.match(db.failure, /^PostgreSQL cannot be used: /)
  t.notMatch(db.failure, new RegExp(String(proxy.port)), 'no address in the reason')
  proxy.restore()
  t.same(await db.query('SELECT count(*)::int AS n FROM b24_inbox'), [{ n: 0 }], 'migrated, then queried')
  t.equal(db.failure, null)
})

t.test('connections broken while idle (PostgreSQL restarted) are dropped from the pool: the next query connects again', async (t) => {
  const url = await testDatabase(t)
  const db = database(t, { connectionString: url })
  await Promise.all([db.query('SELECT pg_sleep(0.05)'), db.query('SELECT pg_sleep(0.05)')])
  t.equal(db.pool.idleCount, 2)
  await sql(url, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')
  await eventually(() => db.pool.totalCount === 0)
  t.same(await db.query('SELECT 1 AS one'), [{ one: 1 }])
  t.equal(db.failure, null)
})

t.test('runs work in one transaction: committed whole, or rolled back whole when it throws', async (t) => {
  const db = database(t, { connectionString: await testDatabase(t) })
  const value = await db.transaction(async (client) => {
    await client.query("INSERT INTO b24_meta (key, value) VALUES ('a', '1')")
    await client.query("INSERT INTO b24_meta (key, value) VALUES ('b', '2')")
    return 'done'
  })
  t.equal(value, 'done')
  await t.rejects(
    db.transaction(async (client) => {
      await client.query("INSERT INTO b24_meta (key, value) VALUES ('c', '3')")
      throw new Error('changed my mind')
    }),
    { message: 'changed my mind' },
  )
  t.match(db.failure, /changed my mind/)
  // Its connection lost mid-transaction: the rollback cannot be sent either; nothing was committed.
  await t.rejects(
    db.transaction(async (client) => {
      await client.query("INSERT INTO b24_meta (key, value) VALUES ('d', '4')")
      await client.query('SELECT pg_terminate_backend(pg_backend_pid())')
    }),
  )
  t.same(await db.query('SELECT key FROM b24_meta ORDER BY key'), [{ key: 'a' }, { key: 'b' }])
  t.equal(db.failure, null)
})

t.test('a client of its own, with the same settings, for listening', async (t) => {
  const url = await testDatabase(t)
  const client = database(t, { connectionString: url, timeoutMs: 1234 }).client()
  t.equal(client.database, new URL(url).pathname.slice(1))
  await client.connect()
  t.same((await client.query('SELECT 9007199254740991::bigint AS n')).rows, [{ n: 9007199254740991 }])
  await client.end()
})

/** Sessions of this database, other than the asking one, running a statement that starts with `start`. */
const running = async (url: string, start: string) =>
  (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE $1", [`${start}%`]))[0]?.n

t.test('a statement that outlives timeoutMs is cancelled by the server before the client gives up: what it would have written is never stored', async (t) => {
  const url = await testDatabase(t)
  const db = database(t, { connectionString: url, timeoutMs: 300 })
  await db.ready()
  // Another session holds the table: the insert waits past its bound.
  const locker = new pg.Client({ connectionString: url })
  await locker.connect()
  t.teardown(() => locker.end())
  await locker.query('BEGIN')
  await locker.query('LOCK TABLE b24_meta IN EXCLUSIVE MODE')
  await t.rejects(db.query("INSERT INTO b24_meta (key, value) VALUES ('late', 'x')"), { code: '57014', message: 'canceling statement due to statement timeout' }, "the server's answer, not the client's")
  t.match(db.failure, /^PostgreSQL cannot be used: canceling statement due to statement timeout/)
  await locker.query('COMMIT')
  // The server is done with it (no longer running): had it only been abandoned, it would commit now.
  await eventually(async () => (await running(url, 'INSERT INTO b24_meta')) === 0)
  t.same(await sql(url, 'SELECT key FROM b24_meta'), [], 'not stored')
})

t.test('a transaction left idle (its client stalled) is ended by the server a little after the client would have given up: its locks let go, nothing committed', async (t) => {
  const url = await testDatabase(t)
  const db = database(t, { connectionString: url, timeoutMs: 300 })
  await db.ready()
  let resume = () => undefined as void
  const stalled = new Promise<void>((resolve) => (resume = resolve))
  const transaction = db.transaction(async (client) => {
    await client.query("INSERT INTO b24_meta (key, value) VALUES ('held', 'x')")
    await stalled
  })
  await eventually(async () => (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'"))[0]?.n === 1)
  try {
    // The key it holds is free once the server ended it: the same insert goes through on another session.
    await eventually(async () => (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'"))[0]?.n === 0)
    await sql(url, "INSERT INTO b24_meta (key, value) VALUES ('held', 'another')")
  } finally {
    resume()
  }
  await t.rejects(transaction)
  t.same(await sql(url, 'SELECT value FROM b24_meta'), [{ value: 'another' }])
})

t.test('a migration is not cut short: one that waits far past timeoutMs (a lock another session holds) completes', async (t) => {
  const url = await testDatabase(t)
  const db = database(t, { connectionString: url, timeoutMs: 200 })
  // Another session is creating a table of the first version's name: the migration waits for its end.
  const locker = new pg.Client({ connectionString: url })
  await locker.connect()
  t.teardown(() => locker.end())
  await locker.query('BEGIN')
  await locker.query('CREATE TABLE b24_inbox (id int)')
  const migrated = db.ready()
  // Past both bounds, the server's (200 ms) and the client's (a second more).
  await eventually(async () => (await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE 'CREATE TABLE b24_inbox (%' AND clock_timestamp() - query_start > interval '1.5 s'"))[0]?.n === 1)
  await locker.query('ROLLBACK')
  await migrated
  t.same(await db.query('SELECT count(*)::int AS n FROM b24_inbox'), [{ n: 0 }])
  t.same(await db.query('SHOW statement_timeout'), [{ statement_timeout: '200ms' }], 'and the connection it used is bounded again')
})

t.test('every connection is bounded: both pools and the listening client', async (t) => {
  const url = await testDatabase(t)
  const db = database(t, { connectionString: url, timeoutMs: 1234 })
  t.teardown(() => db.unsyncedPool.end())
  const bounds = { statement_timeout: '1234ms', idle_in_transaction_session_timeout: '3234ms' }
  const show = "SELECT current_setting('statement_timeout') AS statement_timeout, current_setting('idle_in_transaction_session_timeout') AS idle_in_transaction_session_timeout"
  t.same(await db.query(show), [bounds], 'pool')
  t.same(await db.query(show, [], db.unsyncedPool), [bounds], 'unsyncedPool')
  const client = db.client()
  await client.connect()
  t.teardown(() => client.end())
  t.same((await client.query(show)).rows, [bounds], 'client')
  t.match(client, { connectionParameters: { query_timeout: 2234 } }, 'the client waits a second longer than the server')
})
