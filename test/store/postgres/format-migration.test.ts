import t from 'tap'
import { MIGRATIONS } from '../../../src/store/postgres/migrations.ts'
import { checkFormatOne, LEASE_UNTIL, OLD_ROWS } from '../format-carried-over.ts'
import { openPgStore, sql, testDatabase } from './postgres-fixture.ts'

// A release before formats: what it stored is format 1, and this version reads it all.

t.test('what a release before formats stored is format 1, every table, and read as ever', async (t) => {
  const url = await testDatabase(t)
  await sql(url, 'CREATE TABLE b24_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
  // The schema up to the migration that added formats.
  for (const [i, migration] of MIGRATIONS.slice(0, MIGRATIONS.findIndex((migration) => migration.includes('ADD COLUMN format'))).entries()) {
    await sql(url, migration)
    await sql(url, `INSERT INTO b24_migrations (version) VALUES (${i + 1})`)
  }
  for (const statement of OLD_ROWS) await sql(url, statement.replaceAll('INTO ', 'INTO b24_'))
  await sql(url, 'INSERT INTO b24_leases (name, owner, expires_at) VALUES ($1, $2, $3)', ['poll:im', 'replica-a', LEASE_UNTIL])

  const store = await openPgStore(t, { connectionString: url })
  await checkFormatOne(t, store, async (table) => (await sql<{ format: number }>(url, `SELECT DISTINCT format FROM b24_${table}`)).map((row) => row.format))
})
