import { copyFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { startCheckpointer } from '../../../src/store/sqlite/checkpointer.ts'
import { eventually } from '../../helpers.ts'

/** The rows of table `t` in the database file at `path` alone, read from a copy of it without its WAL. */
function rowsInFile(path: string): number {
  const copy = `${path}.copy`
  copyFileSync(path, copy)
  const db = new BetterSqlite3(copy)
  try {
    const hasTable = db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 't'").pluck().get() === 1
    return hasTable ? (db.prepare('SELECT count(*) FROM t').pluck().get() as number) : 0
  } finally {
    db.close()
  }
}

t.test('copies what the WAL holds into the database from its own thread, while the writer only writes', async (t) => {
  const path = join(t.testdir(), 'x.db')
  const db = new BetterSqlite3(path)
  t.teardown(() => db.close())
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 0') // the writer never checkpoints: only the thread can
  db.exec('CREATE TABLE t (x TEXT)')
  const insert = db.prepare('INSERT INTO t VALUES (?)')
  db.transaction(() => {
    for (let i = 0; i < 200; i++) insert.run('x'.repeat(4000))
  })()
  const before = statSync(path).size
  t.equal(rowsInFile(path), 0, 'the writer alone leaves every row in the WAL')
  const checkpointer = startCheckpointer(path, 10)
  await eventually(() => statSync(path).size > before + 500_000)
  // Stopped: the checkpoint under way, if any, is finished.
  await checkpointer.stop()
  t.equal(rowsInFile(path), 200, 'the thread copied them into the database file')
  t.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 200, 'the writer reads them all, as before')
})

t.test('a thread that cannot open the database stops quietly: the automatic checkpoint remains', async (t) => {
  const uncaught: unknown[] = []
  const monitor = (error: unknown) => void uncaught.push(error)
  process.on('uncaughtExceptionMonitor', monitor)
  t.teardown(() => void process.off('uncaughtExceptionMonitor', monitor))
  const dir = t.testdir()
  // A directory: the thread fails at once, and ends.
  const checkpointer = startCheckpointer(dir, 10)
  const path = join(dir, 'x.db')
  const db = new BetterSqlite3(path)
  t.teardown(() => db.close())
  db.pragma('journal_mode = WAL')
  db.pragma('wal_autocheckpoint = 100')
  db.exec('CREATE TABLE t (x TEXT)')
  const insert = db.prepare('INSERT INTO t VALUES (?)')
  for (let i = 0; i < 200; i++) insert.run('x'.repeat(4000))
  const copied = rowsInFile(path)
  t.ok(copied > 0, `the writer's own checkpoints copied rows into the database file (${copied} of 200)`)
  await t.resolves(checkpointer.stop(), 'stop resolves: the thread has ended')
  t.same(uncaught, [], "the thread's failure reached nothing in this process")
})
