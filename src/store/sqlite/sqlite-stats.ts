import type { Database } from 'better-sqlite3'
import type { StoreStats } from '../../../schemas/health.ts'
import { STORED_FORMAT } from '../format.ts'
import type { SqliteQueue } from './sqlite-queue.ts'

// Besides the pending records (counted from the queue's lines in memory: a deep inbox is not
// scanned), what a newer version wrote: dead letters (along their index), and the small tables.
const FIGURES = `SELECT
  (SELECT count(*) FROM inbox WHERE status = 'dead') AS deadLetters,
  (SELECT count(*) FROM inbox WHERE status = 'dead' AND format > ${STORED_FORMAT})
    + (SELECT count(*) FROM candidate_events WHERE format > ${STORED_FORMAT}) AS records,
  (SELECT count(*) FROM candidates WHERE format > ${STORED_FORMAT}) AS candidates,
  (SELECT count(*) FROM portals WHERE format > ${STORED_FORMAT}) AS portals,
  (SELECT count(*) FROM meta WHERE format > ${STORED_FORMAT}) + (SELECT count(*) FROM leases WHERE format > ${STORED_FORMAT}) AS "values"`

/** The SQLite store's figures for `/health` and `/metrics`. */
export function sqliteStats(db: Database, queue: SqliteQueue): () => StoreStats {
  const figures = db.prepare(FIGURES)
  return () => {
    const { depth, oldestReceivedAt, retrying, newer } = queue.stats()
    const { deadLetters, records, ...others } = figures.get() as { deadLetters: number; records: number; candidates: number; portals: number; values: number }
    return { depth, oldestPendingAgeMs: oldestReceivedAt === null ? null : Date.now() - oldestReceivedAt, retrying, deadLetters, newerFormat: { records: records + newer, ...others } }
  }
}
