import { STORED_FORMAT } from '../format.ts'
import { refuseNewer } from '../newer-format-error.ts'
import type { DeadLetter, DeadLetters, StoredRecord } from '../store.ts'
import { toDeadLetter, toRecord, type Row } from '../rows.ts'
import { NOW_MS, type PostgresDatabase } from './postgres-database.ts'
import { changedUnlessNewer, unlessNewer, type Guarded } from './unless-newer.ts'

const DEAD = "id = $1 AND status = 'dead'"
const KNOWN = `format <= ${STORED_FORMAT}`
const REVIVE = unlessNewer('b24_inbox', DEAD, `UPDATE b24_inbox SET status = 'pending', attempts = 0, next_at = ${NOW_MS}, last_error = NULL WHERE ${DEAD} AND ${KNOWN}`)
const DROP = unlessNewer('b24_inbox', DEAD, `DELETE FROM b24_inbox WHERE ${DEAD} AND ${KNOWN}`)
// Along b24_inbox_dead_since, oldest first. The rows are locked as they are picked, skipping those
// another replica's purge (or a replay) holds: replicas purging at once delete each row once
// between them, and never wait on or deadlock with each other.
const PURGE = `WITH doomed AS (
    SELECT id FROM b24_inbox WHERE status = 'dead' AND next_at < $1 AND ${KNOWN} ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED),
  gone AS (DELETE FROM b24_inbox USING doomed WHERE b24_inbox.id = doomed.id RETURNING 1)
  SELECT count(*)::int AS dropped FROM gone`

/**
 * The PostgreSQL store's dead letter: rows with status `dead`. A revived one wakes every replica.
 * Those of a newer format are left alone: not listed, and asked for by id, a {@link NewerFormatError}.
 */
export class PostgresDeadLetters implements DeadLetters {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async list(): Promise<DeadLetter[]> {
    return (await this.#db.query<Row>(`SELECT * FROM b24_inbox WHERE status = 'dead' AND ${KNOWN} ORDER BY id`)).map(toDeadLetter)
  }

  async get(id: number): Promise<DeadLetter | null> {
    const row = await this.#row(id)
    return row ? toDeadLetter(row) : null
  }

  async record(id: number): Promise<StoredRecord | null> {
    const row = await this.#row(id)
    return row ? toRecord(row) : null
  }

  async revive(id: number): Promise<void> {
    if (changedUnlessNewer(await this.#db.query<Guarded>(REVIVE, [id]), deadLetter(id)) > 0) await this.#db.query("SELECT pg_notify('b24_inbox', '')")
  }

  async drop(id: number): Promise<boolean> {
    return changedUnlessNewer(await this.#db.query<Guarded>(DROP, [id]), deadLetter(id)) > 0
  }

  async purge(before: number, limit: number): Promise<number> {
    const [{ dropped }] = (await this.#db.query<{ dropped: number }>(PURGE, [before, limit])) as [{ dropped: number }]
    return dropped
  }

  /** @throws {NewerFormatError} when a newer version wrote it. */
  async #row(id: number): Promise<Row | undefined> {
    const [row] = await this.#db.query<Row>(`SELECT * FROM b24_inbox WHERE ${DEAD}`, [id])
    if (row) refuseNewer(deadLetter(id), row.format)
    return row
  }
}

const deadLetter = (id: number) => `dead letter ${id}`
