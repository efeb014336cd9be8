import { copyFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t, { type Test } from 'tap'
import { openDatabase } from '../../../src/store/sqlite/open-database.ts'
import { startUpkeep } from '../../../src/store/sqlite/upkeep.ts'
import { eventually } from '../../helpers.ts'

const EVERY_10_MS = { intervalMs: 10, reservePages: 8, stepPages: 16 }

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
  const upkeep = startUpkeep(path, EVERY_10_MS)
  await eventually(() => statSync(path).size > before + 500_000)
  // Stopped: the checkpoint under way, if any, is finished.
  await upkeep.stop()
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
  const upkeep = startUpkeep(dir, EVERY_10_MS)
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
  await t.resolves(upkeep.stop(), 'stop resolves: the thread has ended')
  t.same(uncaught, [], "the thread's failure reached nothing in this process")
})

/** A database as the store opens it (auto_vacuum = INCREMENTAL), holding `rows` rows of ~8 KB in table t, then deleted. */
function freedDatabase(t: Test, rows: number) {
  const dir = t.testdir()
  const db = openDatabase(dir)
  t.teardown(() => db.close())
  db.exec('CREATE TABLE t (x TEXT)')
  const insert = db.prepare('INSERT INTO t VALUES (?)')
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run('x'.repeat(8000))
  })()
  db.exec('DELETE FROM t')
  db.pragma('wal_checkpoint(TRUNCATE)')
  const pages = () => db.pragma('page_count', { simple: true }) as number
  const free = () => db.pragma('freelist_count', { simple: true }) as number
  return { db, path: join(dir, 'inbox.db'), pages, free, insert }
}

t.test('a new database gives its free pages beyond the reserve back, a step at a time, while the writer goes on', async (t) => {
  const { db, path, pages, free, insert } = freedDatabase(t, 400)
  t.equal(db.pragma('auto_vacuum', { simple: true }), 2, 'made with auto_vacuum = INCREMENTAL')
  const before = { pages: pages(), free: free(), bytes: statSync(path).size }
  t.ok(before.free > 150, `the deleted rows left ${before.free} free pages`)
  const upkeep = startUpkeep(path, EVERY_10_MS)
  t.teardown(() => upkeep.stop())
  // The writer is never refused meanwhile: a step holds the lock for a moment, its busy timeout waits it out.
  for (let i = 0; i < 50; i++) insert.run(`y${i}`)
  await eventually(() => free() <= 8)
  t.ok(pages() < before.pages / 4, `pages ${before.pages} → ${pages()}`)
  await eventually(() => statSync(path).size < before.bytes / 4)
  t.equal(db.prepare('SELECT count(*) FROM t').pluck().get(), 50, "the writer's rows are all there")
})

t.test('a database made without incremental vacuum (an earlier release) keeps its free pages for reuse', async (t) => {
  const path = join(t.testdir(), 'old.db')
  const db = new BetterSqlite3(path)
  t.teardown(() => db.close())
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE t (x TEXT)')
  const insert = db.prepare('INSERT INTO t VALUES (?)')
  db.transaction(() => {
    for (let i = 0; i < 200; i++) insert.run('x'.repeat(8000))
  })()
  db.exec('DELETE FROM t')
  const free = db.pragma('freelist_count', { simple: true }) as number
  const upkeep = startUpkeep(path, EVERY_10_MS)
  // Checkpointed (the freed pages reach the file) while the upkeep ran for many ticks.
  await eventually(() => statSync(path).size > 200 * 8000)
  await new Promise((resolve) => setTimeout(resolve, 100))
  await upkeep.stop()
  t.equal(db.pragma('freelist_count', { simple: true }), free, 'every free page kept')
})
