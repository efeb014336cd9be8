import type { Database, Statement } from 'better-sqlite3'
import type { DeadLetter, DeadLetters, StoredRecord } from '../store.ts'
import { STORED_FORMAT } from '../format.ts'
import type { GroupCommit } from './group-commit.ts'
import { refuseNewer } from '../newer-format-error.ts'
import { toDeadLetter, toRecord, type Row } from '../rows.ts'
import type { LineRef } from './sqlite-queue.ts'
import { writeUnlessNewer } from './write-unless-newer.ts'

/**
 * The SQLite store's dead letter: rows with status `dead`. Those of a newer format are left alone:
 * not listed, and asked for by id, a {@link NewerFormatError}.
 */
export class SqliteDeadLetters implements DeadLetters {
  readonly #writer: GroupCommit
  readonly #revived: (ref: LineRef) => void
  readonly #sql: Record<'list' | 'get' | 'revive' | 'drop' | 'purge', Statement>

  /** @param revived told of every record put back in line */
  constructor(db: Database, writer: GroupCommit, revived: (ref: LineRef) => void) {
    this.#writer = writer
    this.#revived = revived
    this.#sql = {
      list: db.prepare(`SELECT * FROM inbox WHERE status = 'dead' AND format <= ${STORED_FORMAT} ORDER BY id`),
      get: db.prepare("SELECT * FROM inbox WHERE id = ? AND status = 'dead'"),
      revive: db.prepare(
        `UPDATE inbox SET status = 'pending', attempts = 0, next_at = ?, last_error = NULL WHERE id = ? AND status = 'dead'
         RETURNING chat_key AS chatKey, received_at AS receivedAt, format`,
      ),
      drop: db.prepare("DELETE FROM inbox WHERE id = ? AND status = 'dead'"),
      // Along inbox_dead_since: the oldest first, what is kept never read.
      purge: db.prepare(
        `DELETE FROM inbox WHERE id IN (
           SELECT id FROM inbox WHERE status = 'dead' AND next_at < ? AND format <= ${STORED_FORMAT} ORDER BY next_at LIMIT ?)`,
      ),
    }
  }

  async list(): Promise<DeadLetter[]> {
    return (this.#sql.list.all() as Row[]).map(toDeadLetter)
  }

  async get(id: number): Promise<DeadLetter | null> {
    const row = this.#row(id)
    return row ? toDeadLetter(row) : null
  }

  async record(id: number): Promise<StoredRecord | null> {
    const row = this.#row(id)
    return row ? toRecord(row) : null
  }

  async revive(id: number): Promise<void> {
    const now = Date.now()
    const revived = await writeUnlessNewer(this.#writer, () => {
      this.#row(id)
      return this.#sql.revive.get(now, id) as Pick<LineRef, 'chatKey' | 'receivedAt' | 'format'> | undefined
    })
    if (revived) this.#revived({ id, ...revived, nextAt: now, attempts: 0 })
  }

  async drop(id: number): Promise<boolean> {
    return writeUnlessNewer(this.#writer, () => {
      this.#row(id)
      return this.#sql.drop.run(id).changes > 0
    })
  }

  // One group commit per call: the door's appends go in between the batches of a long purge.
  async purge(before: number, limit: number): Promise<number> {
    return this.#writer.write(() => this.#sql.purge.run(before, limit).changes)
  }

  /** @throws {NewerFormatError} when a newer version wrote it. */
  #row(id: number): Row | undefined {
    const row = this.#sql.get.get(id) as Row | undefined
    if (row) refuseNewer(`dead letter ${id}`, row.format)
    return row
  }
}
