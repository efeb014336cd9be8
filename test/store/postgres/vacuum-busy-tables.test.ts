import t from 'tap'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { BUSY_TABLES, vacuumBusyTables } from '../../../src/store/postgres/vacuum-busy-tables.ts'
import { eventually } from '../../helpers.ts'
import { newRecord, openPgStore, sql, testDatabase } from './postgres-fixture.ts'

/** How many times each busy table was vacuumed (a vacuum's own backend reports it as it ends). */
const vacuumCounts = async (url: string) =>
  Object.fromEntries((await sql<{ relname: string; n: number }>(url, 'SELECT relname, vacuum_count::int AS n FROM pg_stat_user_tables WHERE relname = ANY($1)', [[...BUSY_TABLES]])).map((row) => [row.relname, row.n]))

t.test("the busy tables are vacuumed, whatever the server's autovacuum does", async (t) => {
  const url = await testDatabase(t)
  const db = new PostgresDatabase({ connectionString: url })
  t.teardown(() => db.end())
  await vacuumBusyTables(db)
  await eventually(async () => {
    const counts = await vacuumCounts(url)
    return BUSY_TABLES.every((table) => counts[table] === 1)
  })
  t.pass('each of them once')
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
