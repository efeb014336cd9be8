import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { Database, Statement } from 'better-sqlite3'
import type { Logger } from 'pino'
import type { NewRecord, Store } from '../store.ts'
import { StoreUnavailableError } from '../store-unavailable-error.ts'
import { GroupCommit } from './group-commit.ts'
import { startUpkeep } from './upkeep.ts'
import type { Durability } from './durability.ts'
import { BUSY_TIMEOUT_MS, INBOX_FILE, openDatabase } from './open-database.ts'
import { recordColumns } from '../rows.ts'
import { SqliteCandidates } from './sqlite-candidates.ts'
import { SqliteDeadLetters } from './sqlite-dead-letters.ts'
import { SqliteLeases } from './sqlite-leases.ts'
import { SqliteMeta } from './sqlite-meta.ts'
import { SqlitePortals } from './sqlite-portals.ts'
import { SqliteQueue } from './sqlite-queue.ts'
import { sqliteStats } from './sqlite-stats.ts'
import { DEAD_LETTER_RETENTION_MS, retention } from '../retention.ts'

/**
 * The file's upkeep, off the event loop: a WAL checkpoint every 250 ms, and beyond 1024 free
 * pages (16 MiB) or a quarter of the used ones, 64 pages (1 MiB) given back per tick.
 */
const UPKEEP = { intervalMs: 250, reservePages: 1024, stepPages: 64 }

export interface OpenSqliteOptions {
  /** The directory of `inbox.db`. */
  dataDir: string
  durability: Durability
  /** How long a handled record's key recognises a double delivery. */
  dedupWindowMs: number
  /**
   * How often an idle queue looks for what another process (`dlq replay`) changed, and the store
   * whether `inbox.db` is still the file it opened; 1 s by default.
   */
  pollIntervalMs?: number
  /**
   * Told once when `DATA_DIR` is removed (or `inbox.db` replaced) under the running store, and
   * (`info`) of each purge that dropped dead letters or portals past their retention.
   */
  logger?: Pick<Logger, 'error' | 'info'>
  /**
   * How often dedup keys past their window are forgotten, and dead letters and uninstalled portals
   * past their retention dropped; a minute by default.
   */
  purgeIntervalMs?: number
  /** How long a dead letter is kept after its last attempt (an uninstalled portal's row, after its uninstall); 30 days. */
  deadLetterRetentionMs?: number
  /** Whether it purges in the background (see `SqliteStoreOptions.purges`): true. */
  purges?: boolean
}

/**
 * The embedded store: one SQLite database (WAL) under `dataDir`, written in group commits.
 * @throws {StoreUnavailableError} when it cannot be opened.
 */
export function openSqliteStore(options: OpenSqliteOptions): Store {
  const db = openDatabase(options.dataDir, options.durability)
  const path = join(options.dataDir, INBOX_FILE)
  const upkeep = startUpkeep(path, UPKEEP)
  // SQLite keeps writing to an unlinked file: with DATA_DIR removed, a 200 would acknowledge an
  // event lost at the next start (and a new secret.key made silently). Watched, then refused.
  const opened = statSync(path).ino
  let removed: string | null = null
  const watch = setInterval(() => {
    if (statSync(path, { throwIfNoEntry: false })?.ino === opened) return
    clearInterval(watch) // told once: what is removed stays removed for this process
    removed = `DATA_DIR ${options.dataDir} was removed (or ${INBOX_FILE} replaced) while running`
    options.logger?.error(`${removed}: events are refused with 503; restart once DATA_DIR is back (what was pending in the removed inbox is lost)`)
  }, options.pollIntervalMs ?? 1000).unref()
  const writer = new GroupCommit(db)
  const queue = new SqliteQueue(db, writer, { dedupWindowMs: options.dedupWindowMs, pollIntervalMs: options.pollIntervalMs ?? 1000 })
  const deadLetters = new SqliteDeadLetters(db, writer, (ref) => queue.enqueue([ref]))
  const portals = new SqlitePortals(db, writer)
  const stats = sqliteStats(db, queue)
  const sql: Record<'insert' | 'purge', Statement> = {
    insert: db.prepare(
      `INSERT INTO inbox (status, chat_key, type, source, received_at, next_at, portal_json, body_kind, body, credentials, format)
       VALUES ('pending', @chat_key, @type, @source, @now, @now, @portal_json, @body_kind, @body, @credentials, @format)`,
    ),
    purge: db.prepare('DELETE FROM seen WHERE expires_at <= ?'),
  }
  // Forgets dedup keys past their window, drops what is past its retention (a batch per commit),
  // then empties the WAL: the pages of deleted rows are zeroed in the database (secure_delete),
  // and their earlier images in the WAL go with it.
  let closed = false
  const retain = retention({ deadLetters, portals }, options.deadLetterRetentionMs ?? DEAD_LETTER_RETENTION_MS, options.logger, () => closed)
  let purging: Promise<void> | undefined
  const purgeOnce = () => {
    purging ??= writer
      .write(() => sql.purge.run(Date.now()))
      .then(retain)
      .then(() => emptyWal(db, 0))
      .catch(() => undefined)
      .finally(() => (purging = undefined))
  }
  const purge = options.purges === false ? undefined : setInterval(purgeOnce, options.purgeIntervalMs ?? 60000).unref()

  let closing: Promise<void> | undefined
  return {
    async append(record: NewRecord) {
      if (removed !== null) throw new StoreUnavailableError(removed)
      const columns = recordColumns(record)
      const stored = await writer.write(() => {
        const now = Date.now()
        return { id: Number(sql.insert.run({ ...columns, now }).lastInsertRowid), now }
      })
      const { id, now } = stored
      queue.enqueue([{ id, chatKey: record.chatKey, nextAt: now, receivedAt: now, attempts: 0, format: columns.format, record: { ...record, id, attempts: 0, receivedAt: now } }])
    },
    queue,
    deadLetters,
    meta: new SqliteMeta(db, writer),
    leases: new SqliteLeases(db, writer),
    portals,
    candidates: new SqliteCandidates(db, writer, (refs) => queue.enqueue(refs)),
    stats: async () => stats(),
    unavailable: () => removed ?? (writer.failure ? 'the inbox cannot be written' : null),
    close: () =>
      (closing ??= (async () => {
        clearInterval(purge)
        clearInterval(watch)
        // A purge under way stops after its batch: what it wrote is committed before the database closes.
        closed = true
        await purging
        queue.close()
        writer.flush()
        await upkeep.stop()
        try {
          emptyWal(db, BUSY_TIMEOUT_MS)
        } finally {
          db.close()
        }
      })()),
  }
}

// Checkpoints the WAL and truncates it, waiting up to `busyMs` for a reader of another process
// (`dlq`, a sqlite3 shell): the periodic one does not wait (the event loop would stall; the next
// one tries again), the one at close does.
function emptyWal(db: Database, busyMs: number): void {
  db.pragma(`busy_timeout = ${busyMs}`)
  try {
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
  }
}
