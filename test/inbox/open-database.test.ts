import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { INBOX_FILE, openDatabase } from '../../src/inbox/open-database.ts'
import { InboxUnavailableError } from '../../src/inbox/inbox-error.ts'
import { migrate } from '../../src/inbox/migrations.ts'

t.test('creates DATA_DIR and a migrated WAL database in it', async (t) => {
  const dir = join(t.testdir(), 'new', 'data')
  const db = openDatabase(dir)
  t.teardown(() => db.close())
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(db.pragma('synchronous', { simple: true }), 1, 'NORMAL: survives a killed process')
  t.equal(db.pragma('foreign_keys', { simple: true }), 1)
  t.equal(db.pragma('user_version', { simple: true }), 1)
  t.equal(migrate(db), 1, 'migrating again changes nothing')
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((row) => row.name)
  t.same(tables.filter((name) => !name.startsWith('sqlite_')), ['events', 'meta'])
})

t.test('fsyncs every commit when asked to survive a power loss', async (t) => {
  const db = openDatabase(t.testdir(), 'power')
  t.teardown(() => db.close())
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL')
})

t.test('names the problem when DATA_DIR is unwritable or the database corrupt', async (t) => {
  const corrupt = t.testdir({ [INBOX_FILE]: 'this is not a database, just text long enough to have a header of sorts' })
  t.throws(() => openDatabase(corrupt), new InboxUnavailableError(`${join(corrupt, INBOX_FILE)} is not a readable SQLite database (corrupt?): move it away to start afresh`))
  const parent = t.testdir()
  const file = join(parent, 'a-file')
  writeFileSync(file, 'x')
  t.throws(() => openDatabase(join(file, 'data')), { name: 'InboxUnavailableError', statusCode: 503, message: /cannot open the inbox in DATA_DIR .*a-file\/data: ENOTDIR/ })
  const taken = t.testdir({ [INBOX_FILE]: {} })
  t.throws(() => openDatabase(taken), { message: `DATA_DIR ${taken} is not writable (cannot open ${join(taken, INBOX_FILE)})` })
  if (process.getuid?.() !== 0) {
    const locked = t.testdir()
    chmodSync(locked, 0o500)
    t.teardown(() => chmodSync(locked, 0o700))
    t.throws(() => openDatabase(locked), { message: /DATA_DIR .* is not writable/ })
  }
})
