import type { Statement } from 'better-sqlite3'
import type { StoreStats } from '../../../schemas/health.ts'
import type { NewRecord, Store } from '../store.ts'
import { GroupCommit } from './group-commit.ts'
import { openDatabase, type Durability } from './open-database.ts'
import { recordColumns } from './rows.ts'
import { SqliteDeadLetters } from './sqlite-dead-letters.ts'
import { SqliteMeta } from './sqlite-meta.ts'
import { SqliteQueue } from './sqlite-queue.ts'

export interface SqliteStoreOptions {
  /** The directory of `inbox.db`. */
  dataDir: string
  durability: Durability
  /** How long a handled record's key recognises a double delivery. */
  dedupWindowMs: number
  /** How often an idle queue looks for what another process (`dlq replay`) changed; 1 s by default. */
  pollIntervalMs?: number
  /** How often dedup keys past their window are forgotten; a minute by default. */
  purgeIntervalMs?: number
}

/**
 * The embedded store: one SQLite database (WAL) under `dataDir`, written in group commits.
 * @throws {StoreUnavailableError} when it cannot be opened.
 */
export function openSqliteStore(options: SqliteStoreOptions): Store {
  const db = openDatabase(options.dataDir, options.durability)
  const writer = new GroupCommit(db)
  const queue = new SqliteQueue(db, writer, { dedupWindowMs: options.dedupWindowMs, pollIntervalMs: options.pollIntervalMs ?? 1000 })
  const deadLetters = new SqliteDeadLetters(db, writer, (ref) => queue.enqueue([ref]))
  const sql: Record<'insert' | 'stats' | 'purge', Statement> = {
    insert: db.prepare(
      `INSERT INTO events (status, key, chat_key, type, received_at, next_at, event_json, raw_json, body_kind, delivery_json, credentials_json, last_error)
       VALUES (@status, @key, @chat_key, @type, @now, @now, @event_json, @raw_json, @body_kind, @delivery_json, @credentials_json, @last_error)
       ON CONFLICT (key) DO NOTHING`,
    ),
    stats: db.prepare(
      `SELECT
         (SELECT COUNT(*) FROM events WHERE status = 'pending') AS depth,
         (SELECT MIN(received_at) FROM events WHERE status = 'pending') AS oldest,
         (SELECT COUNT(*) FROM events WHERE status = 'pending' AND attempts > 0) AS retrying,
         (SELECT COUNT(*) FROM events WHERE status = 'dead') AS dead`,
    ),
    purge: db.prepare("DELETE FROM events WHERE status = 'done' AND expires_at <= ?"),
  }
  const purge = setInterval(() => writer.write(() => sql.purge.run(Date.now())).catch(() => undefined), options.purgeIntervalMs ?? 60000).unref()

  return {
    async append(record: NewRecord) {
      const columns = { ...recordColumns(record), status: record.error === undefined ? 'pending' : 'dead' }
      const stored = await writer.write(() => {
        const now = Date.now()
        const { changes, lastInsertRowid } = sql.insert.run({ ...columns, now })
        return changes === 0 ? null : { id: Number(lastInsertRowid), now }
      })
      if (!stored) return false
      if (record.error === undefined) {
        const { error: _, ...kept } = record
        queue.enqueue([{ id: stored.id, chatKey: record.chatKey, nextAt: stored.now, record: { ...kept, id: stored.id, attempts: 0, receivedAt: stored.now } }])
      }
      return true
    },
    queue,
    deadLetters,
    meta: new SqliteMeta(db, writer),
    async stats(): Promise<StoreStats> {
      const row = sql.stats.get() as { depth: number; oldest: number | null; retrying: number; dead: number }
      return { depth: row.depth, oldestPendingAgeMs: row.oldest === null ? null : Date.now() - row.oldest, retrying: row.retrying, deadLetters: row.dead }
    },
    unavailable: () => (writer.failure ? 'the inbox cannot be written' : null),
    async close() {
      clearInterval(purge)
      queue.close()
      writer.flush()
      db.close()
    },
  }
}
