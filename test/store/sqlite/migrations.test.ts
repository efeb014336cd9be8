import { join } from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import t from 'tap'
import { INBOX_FILE } from '../../../src/store/sqlite/open-database.ts'
import { eventually } from '../../helpers.ts'
import { drain, filesHolding, openStore, otherConnection, PORTAL } from './sqlite-fixture.ts'

// The first three schema versions as the releases that made them ran them (the first three
// entries of MIGRATIONS, copied: a migration is never edited, and this is what is on disk).
const VERSION_1 = `
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'dead', 'done')),
    key TEXT NOT NULL UNIQUE,
    chat_key TEXT,
    type TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    expires_at INTEGER,
    event_json TEXT,
    delivery_json TEXT,
    raw_json TEXT,
    credentials_json TEXT,
    last_error TEXT
  );
  CREATE INDEX events_pending ON events (id) WHERE status = 'pending';
  CREATE INDEX events_dead ON events (id) WHERE status = 'dead';
  CREATE INDEX events_expiry ON events (expires_at) WHERE status = 'done';
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`
const VERSION_2 = 'CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;'
const VERSION_3 = 'ALTER TABLE events ADD COLUMN body_kind TEXT;'

/** An inbox as a release of schema `version` left it (WAL, no secure_delete: those releases set none). */
function oldDatabase(dir: string, version: 1 | 3): Database {
  const db = new BetterSqlite3(join(dir, INBOX_FILE))
  db.pragma('journal_mode = WAL')
  db.exec([VERSION_1, VERSION_2, VERSION_3].slice(0, version).join('\n'))
  db.pragma(`user_version = ${version}`)
  return db
}

/** What a release before this one stored with a record: its door, portal and handler id. */
const delivery = (source: 'webhook' | 'poll') => JSON.stringify({ source, portal: PORTAL, handlerId: source === 'webhook' ? 3 : null })

// Credentials as earlier releases kept them: in clear text.
const TOKEN = 'old-access-token-3b9f2c'
const HANDLED_TOKEN = 'old-token-of-a-handled-event-77e1'
const credentials = (token: string) =>
  JSON.stringify({
    auth: { access_token: token, refresh_token: `refresh-${'r'.repeat(32)}`, application_token: 'app-token', domain: PORTAL.domain, member_id: PORTAL.memberId, expires_in: 3600 },
    bot: { access_token: `bot-${'b'.repeat(32)}`, refresh_token: `bot-refresh-${'r'.repeat(32)}`, application_token: 'app-token', expires_in: 3600 },
  })

t.test('an inbox of schema version 3 opens: its pending, dead and handled rows as the new store keeps them, its clear-text credentials gone', async (t) => {
  const dir = t.testdir()
  const old = oldDatabase(dir, 3)
  const hourAgo = Date.now() - 3_600_000
  const insert = old.prepare(
    `INSERT INTO events (status, key, chat_key, type, received_at, next_at, attempts, event_json, raw_json, body_kind, delivery_json, credentials_json, last_error)
     VALUES (@status, @key, @chat, @type, @at, @at, @attempts, @event, @raw, @kind, @delivery, @credentials, @error)`,
  )
  const row = { status: 'pending', type: 'ONIMBOTV2MESSAGEADD', attempts: 0, event: null, raw: null, kind: null, delivery: delivery('webhook'), credentials: credentials(TOKEN), error: null }
  // Two events handled (the oldest two, completed after the others came), as those releases completed
  // a record: a `done` tombstone, all but its key nulled.
  const handledUntil = Date.now() + 1500
  const complete = old.prepare(
    `UPDATE events SET status = 'done', expires_at = ?, chat_key = NULL, event_json = NULL, delivery_json = NULL, raw_json = NULL,
       credentials_json = NULL, last_error = NULL WHERE key = ?`,
  )
  insert.run({ ...row, key: 'hook:long-ago', chat: 'chat:member-1:5', at: hourAgo - 200, event: '{"text":"long ago"}', kind: 'event' })
  insert.run({ ...row, key: 'hook:handled', chat: 'chat:member-1:5', at: hourAgo - 100, event: '{"text":"handled"}', kind: 'event', credentials: credentials(HANDLED_TOKEN) })
  const form = 'event=ONIMBOTV2MESSAGEADD&data%5BPARAMS%5D%5BMESSAGE%5D=hi'
  // A decoded event stored before version 3 (no body_kind), a form, a decoded event waiting for a
  // retry in the first event's chat, a polled payload of no chat; a dead letter.
  insert.run({ ...row, key: 'hook:first', chat: 'chat:member-1:5', at: hourAgo, event: '{"text":"first"}' })
  insert.run({ ...row, key: 'hook:form', chat: 'chat:member-1:7', at: hourAgo + 100, raw: form, kind: 'form' })
  insert.run({ ...row, key: 'hook:retried', chat: 'chat:member-1:5', at: hourAgo + 200, attempts: 2, event: '{"text":"retried"}', kind: 'event', error: 'Error: handler down' })
  insert.run({ ...row, key: 'poll:member-1:9', chat: 'solo:poll:member-1:9', type: 'ONIMBOTJOINCHAT', at: hourAgo + 300, raw: '{"eventId":9}', kind: 'payload', delivery: delivery('poll') })
  const dead = { ...row, status: 'dead', key: 'bad:x', chat: 'rejected:bad:x', type: 'ONIMV2MESSAGEADD', at: hourAgo + 400, attempts: 5, raw: '{"data":{"message":{"id":"x"}}}', kind: 'payload', delivery: delivery('poll'), error: 'off its schema' }
  const deadId = Number(insert.run(dead).lastInsertRowid)
  complete.run(Date.now() - 1, 'hook:long-ago')
  complete.run(handledUntil, 'hook:handled')
  old.prepare("INSERT INTO meta (key, value) VALUES ('poll:offset', '41')").run()
  old.close()
  // The search below can find them: the tokens are on disk, the handled one too (left in the page).
  t.same(filesHolding(dir, TOKEN), [INBOX_FILE], 'control: the clear-text token is on disk')
  t.same(filesHolding(dir, HANDLED_TOKEN), [INBOX_FILE], 'control: so is what the old release left of a handled event')

  const store = openStore(t, { dataDir: dir })
  const db = otherConnection(t, dir)
  t.equal(db.pragma('user_version', { simple: true }), 8)
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all()
  t.same(tables, ['candidate_events', 'candidates', 'inbox', 'leases', 'meta', 'portals', 'seen'], 'the events table is gone')
  t.equal(await store.meta.get('poll:offset'), '41')

  t.equal(await store.queue.seen('hook:handled'), true, 'a handled key is known for what is left of its window')
  t.equal(await store.queue.seen('hook:long-ago'), false, 'not past it')
  t.same(db.prepare('SELECT key, expires_at AS expiresAt FROM seen WHERE key = ?').get('hook:handled'), { key: 'hook:handled', expiresAt: handledUntil })

  const stats = await store.stats()
  t.match(stats, { depth: 4, retrying: 1, deadLetters: 1 })
  t.ok((stats.oldestPendingAgeMs as number) >= 3_600_000, 'the oldest pending record is an hour old')

  const pending = { type: 'ONIMBOTV2MESSAGEADD', source: 'webhook', portal: PORTAL, credentials: null }
  const handled = await drain(store)
  t.match(handled, [
    { ...pending, chatKey: 'chat:member-1:5', bodyKind: 'event', body: '{"text":"first"}', attempts: 0, receivedAt: hourAgo },
    { ...pending, chatKey: 'chat:member-1:7', bodyKind: 'form', body: form, attempts: 0, receivedAt: hourAgo + 100 },
    { ...pending, chatKey: 'solo:poll:member-1:9', type: 'ONIMBOTJOINCHAT', source: 'poll', bodyKind: 'payload', body: '{"eventId":9}', receivedAt: hourAgo + 300 },
    { ...pending, chatKey: 'chat:member-1:5', bodyKind: 'event', body: '{"text":"retried"}', attempts: 2, receivedAt: hourAgo + 200 },
  ])
  t.equal(handled.length, 4)
  t.ok(
    handled.every((record) => record.credentials === null),
    'no credentials: those of an earlier release were clear text',
  )

  t.same(await store.deadLetters.list(), [
    { id: deadId, type: 'ONIMV2MESSAGEADD', receivedAt: new Date(hourAgo + 400).toISOString(), attempts: 5, error: 'off its schema', source: 'poll', portal: PORTAL, bodyKind: 'payload', body: { data: { message: { id: 'x' } } } },
  ])
  t.match(await store.deadLetters.record(deadId), { chatKey: 'rejected:bad:x', credentials: null })

  await eventually(async () => !(await store.queue.seen('hook:handled')))
  t.ok(Date.now() >= handledUntil, 'known until it expires')

  await store.close()
  t.same(filesHolding(dir, TOKEN), [], 'the clear-text token is in no file under DATA_DIR')
  t.same(filesHolding(dir, HANDLED_TOKEN), [], 'nor what was left of a handled one')
})

t.test('an inbox of schema version 1 opens too, its bodies told apart by column', async (t) => {
  const dir = t.testdir()
  const old = oldDatabase(dir, 1)
  const insert = old.prepare(
    `INSERT INTO events (status, key, chat_key, type, received_at, next_at, event_json, raw_json, delivery_json, credentials_json, last_error)
     VALUES (?, ?, 'chat:m:5', 'ONIMV2MESSAGEADD', 1000, 1000, ?, ?, ?, ?, ?)`,
  )
  insert.run('pending', 'hook:a', '{"text":"pending"}', null, delivery('webhook'), credentials(TOKEN), null)
  insert.run('dead', 'bad:b', null, '{"text":"undecodable"}', delivery('webhook'), credentials(TOKEN), 'off its schema')
  old.close()

  const store = openStore(t, { dataDir: dir })
  t.match(await store.queue.claim(10), [{ chatKey: 'chat:m:5', bodyKind: 'event', body: '{"text":"pending"}', source: 'webhook', credentials: null, receivedAt: 1000 }])
  t.match(await store.deadLetters.list(), [{ type: 'ONIMV2MESSAGEADD', bodyKind: 'payload', body: { text: 'undecodable' }, error: 'off its schema' }])
  t.equal(otherConnection(t, dir).pragma('user_version', { simple: true }), 8)
})
