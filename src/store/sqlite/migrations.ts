import type { Database } from 'better-sqlite3'

// The inbox schema, one entry per version; `PRAGMA user_version` says how many have run.
// Append, never edit: a database made by an older release upgrades on open.
const MIGRATIONS: string[] = [
  // One row per event: `pending` until handled, then a `done` tombstone holding only its key
  // for the dedup window, or `dead` (the dead letter). Credentials have their own column, apart
  // from the event, and go with it.
  `CREATE TABLE events (
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
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
  // Leases on names (one poller per queue, across processes): held by `owner`, a process of this
  // host (`pid`: one that died holds nothing), until `expires_at`.
  `CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;`,
  // What `raw_json` holds when it is not JSON: `form` (a body kept as it came). NULL for the kinds
  // the first two versions told apart by column.
  `ALTER TABLE events ADD COLUMN body_kind TEXT;`,
]

/** Brings a database to the current schema, in one transaction per step. */
export function migrate(db: Database): number {
  const current = db.pragma('user_version', { simple: true }) as number
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] as string)
      db.pragma(`user_version = ${version + 1}`)
    })()
  }
  return MIGRATIONS.length
}
