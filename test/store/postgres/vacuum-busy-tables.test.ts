import t from 'tap'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { BUSY_TABLES, vacuumBusyTables } from '../../../src/store/postgres/vacuum-busy-tables.ts'
import { eventually } from '../../helpers.ts'
import { newRecord, openPgStore, sql, testDatabase } from './postgres-fixture.ts'

const deadRows = async (url: string) =>
  Object.fromEntries((await sql<{ relname: string; n: number }>(url, 'SELECT relname, n_dead_tup::int AS n FROM pg_stat_user_tables WHERE relname = ANY($1)', [[...BUSY_TABLES]])).map((row) => [row.relname, row.n]))

t.test("the busy tables' dead rows are vacuumed away, whatever the server's autovacuum does", async (t) => {
  const url = await testDatabase(t)
  const db = new PostgresDatabase({ connectionString: url })
  t.teardown(() => db.end())
  const store = await openPgStore(t, { connectionString: url })
  for (let i = 0; i < 50; i++) await store.append(newRecord(i, `m${i}`))
  for (const record of await store.queue.claim(50)) await store.queue.complete(record, `hook:${record.id}`)
  await sql(url, 'DELETE FROM b24_seen')
  // The statistics collector is told at the end of each transaction, and read a moment later.
  await eventually(async () => ((await deadRows(url)).b24_inbox ?? 0) >= 50)
  await vacuumBusyTables(db)
  await eventually(async () => {
    const dead = await deadRows(url)
    return dead.b24_inbox === 0 && dead.b24_seen === 0
  })
  t.pass('no dead row left in the inbox or the dedup keys')
})

t.test('the store vacuums them every vacuumIntervalMs', async (t) => {
  const store = await openPgStore(t, { vacuumIntervalMs: 20 })
  const url = store.connectionString
  for (let i = 0; i < 20; i++) await store.append(newRecord(i, `m${i}`))
  for (const record of await store.queue.claim(20)) await store.queue.complete(record, null)
  const vacuums = async () => (await sql<{ n: number }>(url, "SELECT vacuum_count::int AS n FROM pg_stat_user_tables WHERE relname = 'b24_inbox'"))[0]?.n as number
  await eventually(async () => (await vacuums()) > 0)
  t.pass('vacuumed by the store')
  // Idle: vacuumed once more at most (an append may have come after the last), then no more.
  await new Promise((resolve) => setTimeout(resolve, 100))
  const idle = await vacuums()
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(await vacuums(), idle, 'nothing appended since: not vacuumed again')
})
