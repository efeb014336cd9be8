import type { Database } from 'better-sqlite3'

// The inbox schema, one entry per version; `PRAGMA user_version` says how many have run.
// Append, never edit: a database made by an older release upgrades on open.
export const MIGRATIONS: readonly string[] = [
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
  // The wire, not the decoded event: an append is one row in one b-tree (no unique key to check,
  // no index a pending row is in), small columns first so that reading the line at open skips the
  // body's overflow pages. A handled row is deleted; its dedup key goes to `seen`. Credentials
  // are sealed by the door; those of rows an earlier release kept in clear text are dropped here
  // (access tokens live an hour: they would be stale by the time anyone needed them).
  `CREATE TABLE inbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     status TEXT NOT NULL CHECK (status IN ('pending', 'dead')),
     chat_key TEXT NOT NULL,
     type TEXT NOT NULL,
     source TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     next_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     portal_json TEXT NOT NULL,
     body_kind TEXT NOT NULL,
     body TEXT NOT NULL,
     credentials TEXT
   );
   CREATE INDEX inbox_dead ON inbox (id) WHERE status = 'dead';
   CREATE TABLE seen (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX seen_expiry ON seen (expires_at);
   INSERT INTO inbox (id, status, chat_key, type, source, received_at, next_at, attempts, last_error, portal_json, body_kind, body)
     SELECT id, status, COALESCE(chat_key, 'solo:' || key), type, delivery_json ->> '$.source', received_at, next_at, attempts, last_error,
            delivery_json -> '$.portal', COALESCE(body_kind, IIF(event_json IS NULL, 'payload', 'event')), COALESCE(event_json, raw_json)
     FROM events WHERE status IN ('pending', 'dead') ORDER BY id;
   INSERT INTO seen (key, expires_at) SELECT key, expires_at FROM events WHERE status = 'done';
   DROP TABLE events;`,
  // The portals of a Bitrix24 application (application mode), one row each: its tokens sealed,
  // its application token only as a keyed hash (see schemas/portal.ts).
  `CREATE TABLE portals (
     member_id TEXT PRIMARY KEY,
     domain TEXT NOT NULL,
     client_endpoint TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'reinstall', 'uninstalled')),
     scope TEXT,
     version TEXT,
     application_token TEXT,
     tokens TEXT,
     expires_at INTEGER,
     installed_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   ) WITHOUT ROWID;`,
  // Installs the OAuth server has not confirmed yet: candidates, several per portal, each with its
  // own application token (a keyed hash) and its own events, held here apart from the inbox until
  // it is settled (see schemas/portal.ts). An install an earlier release kept `pending` in
  // `portals` becomes a candidate, with the events of its portal that were waiting in the inbox
  // (in their order); then `portals` holds confirmed installs only, and its CHECK says so.
  `CREATE TABLE candidates (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     member_id TEXT NOT NULL,
     domain TEXT NOT NULL,
     client_endpoint TEXT NOT NULL,
     scope TEXT,
     version TEXT,
     application_token TEXT NOT NULL,
     tokens TEXT NOT NULL,
     expires_at INTEGER,
     received_at INTEGER NOT NULL
   );
   CREATE INDEX candidates_member ON candidates (member_id);
   CREATE TABLE candidate_events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     candidate_id INTEGER NOT NULL,
     chat_key TEXT NOT NULL,
     type TEXT NOT NULL,
     source TEXT NOT NULL,
     received_at INTEGER NOT NULL,
     portal_json TEXT NOT NULL,
     body_kind TEXT NOT NULL,
     body TEXT NOT NULL,
     credentials TEXT
   );
   CREATE INDEX candidate_events_line ON candidate_events (candidate_id, id);
   INSERT INTO candidates (member_id, domain, client_endpoint, scope, version, application_token, tokens, expires_at, received_at)
     SELECT member_id, domain, client_endpoint, scope, version, application_token, tokens, expires_at, installed_at
     FROM portals WHERE status = 'pending' AND application_token IS NOT NULL AND tokens IS NOT NULL ORDER BY member_id;
   INSERT INTO candidate_events (candidate_id, chat_key, type, source, received_at, portal_json, body_kind, body, credentials)
     SELECT c.id, i.chat_key, i.type, i.source, i.received_at, i.portal_json, i.body_kind, i.body, i.credentials
     FROM inbox i JOIN candidates c ON c.member_id = i.portal_json ->> '$.memberId'
     WHERE i.status = 'pending' AND i.source = 'webhook' ORDER BY i.id;
   DELETE FROM inbox WHERE status = 'pending' AND source = 'webhook' AND portal_json ->> '$.memberId' IN (SELECT member_id FROM candidates);
   CREATE TABLE confirmed_portals (
     member_id TEXT PRIMARY KEY,
     domain TEXT NOT NULL,
     client_endpoint TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('active', 'reinstall', 'uninstalled')),
     scope TEXT,
     version TEXT,
     application_token TEXT,
     tokens TEXT,
     expires_at INTEGER,
     installed_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   ) WITHOUT ROWID;
   INSERT INTO confirmed_portals SELECT * FROM portals WHERE status <> 'pending';
   DROP TABLE portals;
   ALTER TABLE confirmed_portals RENAME TO portals;`,
  // The format each row was written in (see ../format.ts): what is stored already is format 1, and
  // so is what a replica of an earlier release writes, not knowing the column, during an upgrade.
  // Dedup keys (`seen`) carry none. No table is rewritten: a constant default only changes the schema.
  `ALTER TABLE inbox ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE candidates ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE candidate_events ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE portals ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE meta ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
   ALTER TABLE leases ADD COLUMN format INTEGER NOT NULL DEFAULT 1;`,
  // The dead letter by the time its last attempt came due (`next_at`, what the retention measures
  // a dead letter's age by: ../retention.ts): a purge finds what is old along it, never scanning
  // the letters it keeps. Only dead rows are in it: a pending row's retries never touch it.
  `CREATE INDEX inbox_dead_since ON inbox (next_at) WHERE status = 'dead';`,
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
