import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { migrate } from '../../../src/store/sqlite/migrations.ts'
import { INBOX_FILE, openDatabase } from '../../../src/store/sqlite/open-database.ts'
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.ts'
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
  const version = db.pragma('user_version', { simple: true })
  t.ok(typeof version === 'number' && version >= 2)
  t.equal(migrate(db), version, 'migrating again changes nothing')
  t.equal(db.pragma('user_version', { simple: true }), version)
  t.same(tables(db), ['events', 'leases', 'meta'])
})

t.test('upgrades a database made by the first release, and reads what it holds', async (t) => {
  const dir = t.testdir()
  // What the first release wrote (schema version 1).
  const old = new BetterSqlite3(join(dir, INBOX_FILE))
  old.exec(`
    CREATE TABLE events (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      status TEXT NOT NULL CHECK (status IN ('pending', 'dead', 'done')),
      key TEXT NOT NULL UNIQUE, chat_key TEXT, type TEXT NOT NULL, received_at INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, expires_at INTEGER,
      event_json TEXT, delivery_json TEXT, raw_json TEXT, credentials_json TEXT, last_error TEXT);
    CREATE INDEX events_pending ON events (id) WHERE status = 'pending';
    CREATE INDEX events_dead ON events (id) WHERE status = 'dead';
    CREATE INDEX events_expiry ON events (expires_at) WHERE status = 'done';
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('offset', '12');
    PRAGMA user_version = 1;`)
  const delivery = JSON.stringify({ source: 'webhook', portal: { domain: 'p', memberId: 'm', clientEndpoint: null }, handlerId: 3 })
  const insert = old.prepare(
    `INSERT INTO events (status, key, chat_key, type, received_at, next_at, event_json, raw_json, delivery_json, credentials_json, last_error)
     VALUES (?, ?, 'chat:m:5', 'ONIMV2MESSAGEADD', 1000, 1000, ?, ?, ?, '{}', ?)`,
  )
  insert.run('pending', 'hook:a', '{"text":"pending"}', null, delivery, null)
  insert.run('dead', 'bad:b', null, '{"text":"undecodable"}', delivery, 'off its schema')
  old.close()

  const db = openDatabase(dir)
  t.equal(db.pragma('user_version', { simple: true }), migrate(db))
  t.same(tables(db), ['events', 'leases', 'meta'])
  db.close()
  const store = openSqliteStore({ dataDir: dir, durability: 'process', dedupWindowMs: 1000 })
  t.teardown(() => store.close())
  t.equal(await store.meta.get('offset'), '12')
  t.match(await store.queue.claim(10), [{ key: 'hook:a', bodyKind: 'event', body: '{"text":"pending"}', handlerId: 3, receivedAt: 1000 }])
  t.match(await store.deadLetters.list(), [{ type: 'ONIMV2MESSAGEADD', bodyKind: 'payload', body: { text: 'undecodable' }, error: 'off its schema' }])
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
