import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { migrate } from '../../../src/store/sqlite/migrations.ts'
import { INBOX_FILE, openDatabase } from '../../../src/store/sqlite/open-database.ts'
import { StoreUnavailableError } from '../../../src/store/store-unavailable-error.ts'

const tables = (db: ReturnType<typeof openDatabase>) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((row) => row.name).filter((name) => !name.startsWith('sqlite_'))

t.test('creates DATA_DIR and a migrated WAL database in it', async (t) => {
  const dir = join(t.testdir(), 'new', 'data')
  const db = openDatabase(dir)
  t.teardown(() => db.close())
  t.equal(db.name, join(dir, INBOX_FILE))
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  t.equal(db.pragma('synchronous', { simple: true }), 1, 'NORMAL: survives a killed process')
  t.equal(db.pragma('foreign_keys', { simple: true }), 1)
  t.equal(db.pragma('busy_timeout', { simple: true }), 5000, 'waits for another process (dlq) rather than failing')
  t.equal(db.pragma('secure_delete', { simple: true }), 1, 'what is deleted is overwritten, not left in a free page')
  t.equal(db.pragma('user_version', { simple: true }), 8)
  t.equal(migrate(db), 8, 'migrating again changes nothing')
  t.equal(db.pragma('user_version', { simple: true }), 8)
  t.same(tables(db), ['candidate_events', 'candidates', 'inbox', 'leases', 'meta', 'portals', 'seen'])
})

t.test('fsyncs every commit when asked to survive a power loss', async (t) => {
  const db = openDatabase(t.testdir(), 'power')
  t.teardown(() => db.close())
  t.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL')
})

t.test('names the problem when DATA_DIR is unwritable or the database corrupt', async (t) => {
  const corrupt = t.testdir({ [INBOX_FILE]: 'this is not a database, just text long enough to have a header of sorts' })
  t.throws(() => openDatabase(corrupt), new StoreUnavailableError(`${join(corrupt, INBOX_FILE)} is not a readable SQLite database (corrupt?): move it away to start afresh`))
  t.throws(() => openDatabase(corrupt), { name: 'StoreUnavailableError', code: 'INBOX_UNAVAILABLE', statusCode: 503, cause: { code: 'SQLITE_NOTADB' } })
  const parent = t.testdir()
  const file = join(parent, 'a-file')
  writeFileSync(file, 'x')
  t.throws(() => openDatabase(join(file, 'data')), { name: 'StoreUnavailableError', statusCode: 503, message: /^cannot open the inbox in DATA_DIR .*a-file\/data: ENOTDIR/ })
  const taken = t.testdir({ [INBOX_FILE]: {} })
  t.throws(() => openDatabase(taken), { name: 'StoreUnavailableError', message: `DATA_DIR ${taken} is not writable (cannot open ${join(taken, INBOX_FILE)})` })
  if (process.getuid?.() !== 0) {
    const locked = t.testdir()
    chmodSync(locked, 0o500)
    t.teardown(() => chmodSync(locked, 0o700))
    t.throws(() => openDatabase(locked), { name: 'StoreUnavailableError', message: `DATA_DIR ${locked} is not writable (cannot open ${join(locked, INBOX_FILE)})` })
  }
})
