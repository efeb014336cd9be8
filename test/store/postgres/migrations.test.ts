import pg from 'pg'
import t, { type Test } from 'tap'
import { migrate, MIGRATIONS } from '../../../src/store/postgres/migrations.ts'
import { eventually } from '../../helpers.ts'
import { openPgStore, sql, testDatabase } from './postgres-fixture.ts'
import { NONE_NEWER } from '../store-contract.ts'

const pool = (t: Test, url: string) => {
  const created = new pg.Pool({ connectionString: url, max: 2 })
  // As the store's: an idle connection that breaks is only dropped.
  created.on('error', () => undefined)
  t.teardown(() => created.end())
  return created
}

/** Every version, as `b24_migrations` records them once all have run. */
const ALL_VERSIONS = MIGRATIONS.map((_, i) => ({ version: i + 1 }))
const versions = (url: string) => sql(url, 'SELECT version FROM b24_migrations ORDER BY version')

const tables = async (url: string) => (await sql<{ name: string }>(url, "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).map((row) => row.name)

t.test('brings a fresh database to the last version, recorded once', async (t) => {
  const url = await testDatabase(t)
  await migrate(pool(t, url))
  t.same(await tables(url), ['b24_candidate_events', 'b24_candidates', 'b24_inbox', 'b24_leases', 'b24_meta', 'b24_migrations', 'b24_portals', 'b24_rest_buckets', 'b24_seen'])
  t.same(await versions(url), ALL_VERSIONS)
  await migrate(pool(t, url))
  t.same(await versions(url), ALL_VERSIONS, 'up to date: nothing again')
})

t.test('a database a release of version 1 made is brought to the last version, its rows kept', async (t) => {
  const url = await testDatabase(t)
  // As that release left it: its one version run and recorded, a value stored.
  await sql(url, 'CREATE TABLE b24_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
  await sql(url, MIGRATIONS[0] as string)
  await sql(url, 'INSERT INTO b24_migrations (version) VALUES (1)')
  await sql(url, "INSERT INTO b24_meta (key, value) VALUES ('poll:offset', '41')")
  await migrate(pool(t, url))
  t.same(await versions(url), ALL_VERSIONS)
  t.same(await sql(url, 'SELECT key, value FROM b24_meta'), [{ key: 'poll:offset', value: '41' }])
  t.same(await sql(url, 'SELECT member_id FROM b24_portals'), [], 'the portals table, empty')
})

t.test('replicas starting together on a fresh database migrate one after the other, without error', async (t) => {
  const url = await testDatabase(t)
  const stores = await Promise.all(Array.from({ length: 6 }, () => openPgStore(t, { connectionString: url })))
  // Their first calls all at once: each brings the schema up to date before it runs.
  const figures = await Promise.all(stores.map((store) => store.stats()))
  t.same(figures, stores.map(() => ({ depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0, newerFormat: NONE_NEWER })))
  t.same(await versions(url), ALL_VERSIONS)
  await Promise.all(Array.from({ length: 4 }, () => migrate(pool(t, url))))
  t.same(await versions(url), ALL_VERSIONS)
})

t.test('a version that fails is rolled back whole and not recorded; the lock is given back', async (t) => {
  const url = await testDatabase(t)
  // Something in the way of the first version: a table of that name, made by hand.
  await sql(url, 'CREATE TABLE b24_inbox (id int)')
  await t.rejects(migrate(pool(t, url)), { message: /already exists/ })
  t.same(await tables(url), ['b24_inbox', 'b24_migrations'], 'none of its tables kept')
  t.same(await sql(url, 'SELECT version FROM b24_migrations'), [])
  await sql(url, 'DROP TABLE b24_inbox')
  await migrate(pool(t, url))
  t.same(await versions(url), ALL_VERSIONS, 'migrated at the next try, not held up by the lock')
})

t.test('a migration whose connection is lost (waiting for the lock of another) rejects, and the process lives on', async (t) => {
  const url = await testDatabase(t)
  // Another replica migrating: it holds the lock.
  const other = pool(t, url)
  const holder = await other.connect()
  await holder.query('SELECT pg_advisory_lock($1)', [0x62323472])
  const migrating = migrate(pool(t, url)).then(
    () => null,
    (error: Error) => error,
  )
  await eventually(async () => (await sql(url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_lock%'")).length === 1)
  await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_lock%'")
  t.match(await migrating, { message: /terminat|not queryable/ }, 'rejected')
  await holder.query('SELECT pg_advisory_unlock($1)', [0x62323472])
  holder.release()
  await migrate(pool(t, url))
  t.same(await versions(url), ALL_VERSIONS, 'the next try migrates')
})
