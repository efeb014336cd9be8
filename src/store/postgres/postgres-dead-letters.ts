import type { DeadLetter, DeadLetters, StoredRecord } from '../store.ts'
import { toDeadLetter, toRecord, type Row } from '../rows.ts'
import { NOW_MS, type PostgresDatabase } from './postgres-database.ts'

/** The PostgreSQL store's dead letter: rows with status `dead`. A revived one wakes every replica. */
export class PostgresDeadLetters implements DeadLetters {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async list(): Promise<DeadLetter[]> {
    return (await this.#db.query<Row>("SELECT * FROM b24_inbox WHERE status = 'dead' ORDER BY id")).map(toDeadLetter)
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
    await this.#db.query(
      `WITH revived AS (UPDATE b24_inbox SET status = 'pending', attempts = 0, next_at = ${NOW_MS}, last_error = NULL WHERE id = $1 AND status = 'dead' RETURNING 1)
       SELECT pg_notify('b24_inbox', '') FROM revived`,
      [id],
    )
  }

  async drop(id: number): Promise<boolean> {
    return (await this.#db.query("DELETE FROM b24_inbox WHERE id = $1 AND status = 'dead' RETURNING 1", [id])).length > 0
  }

  async #row(id: number): Promise<Row | undefined> {
    return (await this.#db.query<Row>("SELECT * FROM b24_inbox WHERE id = $1 AND status = 'dead'", [id]))[0]
  }
}
