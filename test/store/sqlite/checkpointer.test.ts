import { statSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { startCheckpointer } from '../../../src/store/sqlite/checkpointer.ts'
import { eventually } from '../../helpers.ts'

t.test('copies what the WAL holds into the database from its own thread, while the writer only writes', async (t) => {
  const path = join(t.testdir(), 'x.db')
  const db = new BetterSqlite3(path)
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 0') // the writer never checkpoints: only the thread can
  db.exec('CREATE TABLE t (x TEXT)')
  const checkpointer = startCheckpointer(path, 10)
  const before = statSync(path).size
  const insert = db.prepare('INSERT INTO t VALUES (?)')
  db.transaction(() => {
    for (let i = 0; i < 200; i++) insert.run('x'.repeat(4000))
  })()
  await eventually(() => statSync(path).size > before + 500_000)
  await checkpointer.stop()
  db.close()
})

t.test('a thread that cannot open the database stops quietly: the automatic checkpoint remains', async (t) => {
  const checkpointer = startCheckpointer(t.testdir(), 10)
  await checkpointer.stop()
  t.pass('stopped')
})
