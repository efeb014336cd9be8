import type { Database } from 'better-sqlite3'

// The inbox schema, one entry per version; `PRAGMA user_version` says how many have run.
// Append, never edit: a database made by an older release upgrades on open.
const MIGRATIONS: string[] = [
  `CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     status TEXT NOT NULL CHECK (status IN ('pending', 'dead')),
     key TEXT NOT NULL,
     chat_key TEXT NOT NULL,
     type TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL,
     event_json TEXT,
     delivery_json TEXT NOT NULL,
     raw_json TEXT,
     last_error TEXT
   );
   CREATE INDEX events_by_chat ON events (status, chat_key, id);
   CREATE TABLE credentials (
     event_id INTEGER PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
     json TEXT NOT NULL
   );
   CREATE TABLE dedup (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX dedup_by_expiry ON dedup (expires_at);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
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
