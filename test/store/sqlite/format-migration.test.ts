import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.ts'
import { INBOX_FILE } from '../../../src/store/sqlite/open-database.ts'
import { checkFormatOne, LEASE_UNTIL, OLD_ROWS } from '../format-carried-over.ts'
import { openStore, otherConnection } from './sqlite-fixture.ts'

// A release before formats: what it stored is format 1, and this version reads it all.

t.test('what a release before formats stored is format 1, every table, and read as ever', async (t) => {
  const dir = t.testdir()
  const old = new BetterSqlite3(join(dir, INBOX_FILE))
  old.pragma('journal_mode = WAL')
  // The schema up to the migration that added formats (the seventh).
  const before = MIGRATIONS.findIndex((migration) => migration.includes('ADD COLUMN format'))
  for (const migration of MIGRATIONS.slice(0, before)) old.exec(migration)
  old.pragma(`user_version = ${before}`)
  for (const statement of OLD_ROWS) old.exec(statement)
  old.prepare('INSERT INTO leases (name, owner, pid, expires_at) VALUES (?, ?, ?, ?)').run('poll:im', 'replica-a', process.pid, LEASE_UNTIL)
  old.close()

  const store = openStore(t, { dataDir: dir })
  const db = otherConnection(t, dir)
  await checkFormatOne(t, store, async (table) => db.prepare(`SELECT DISTINCT format FROM ${table}`).pluck().all() as number[])
})
