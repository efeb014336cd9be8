import type { NewRecord } from '../store.ts'
import { recordColumns } from '../rows.ts'
import { StoreUnavailableError } from '../store-unavailable-error.ts'
import { Batcher } from './batcher.ts'
import { NOW_MS, prepared, type PostgresDatabase } from './postgres-database.ts'

/** Rows in one insert at most (8 parameters each, well under the protocol's 65 535). */
const MAX_BATCH = 256

const COLUMNS = 'chat_key, type, source, portal_json, body_kind, body, credentials, format'

const ANNOUNCE = prepared('announce', "SELECT pg_notify('b24_inbox', '')")

/**
 * A statement that takes, for the rest of its transaction, the advisory lock of each chat in
 * `keys` (an SQL `FROM` item whose rows have a `chat_key`). Taken by every insert of new ids into
 * the inbox before it takes them: a chat's ids are then taken and committed one transaction at a
 * time, across replicas, so a later id of a chat is never committed while an earlier one is not
 * yet (a claim would hand it out first). Taken in the locks' own order, whatever the order of the
 * rows: two inserts of the same chats never each hold a lock the other waits for (a deadlock).
 */
export const lockChats = (keys: string): string =>
  `SELECT count(pg_advisory_xact_lock(lock)) AS locked FROM (SELECT DISTINCT hashtextextended(chat_key, 0) AS lock FROM ${keys} ORDER BY lock) AS chats`

/**
 * The appends of one event-loop turn go into one multi-row insert, committed before any of them
 * resolves: a 200 means committed. Then every replica's worker is woken.
 *
 * One insert at a time: commits then come in id order, so a claim never sees a chat's later record
 * while an earlier one is still being inserted (two inserts in flight commit in either order).
 * What is appended meanwhile waits for the next insert, which waiting makes bigger. Across
 * replicas, each insert holds its chats' locks ({@link lockChats}) from before its ids are taken
 * to its commit: another replica's insert for one of them waits.
 */
export class AppendBatcher {
  readonly #db: PostgresDatabase
  readonly #inserts: Batcher<NewRecord>
  #announcing: Promise<void> | null = null
  #announceAgain = false

  constructor(db: PostgresDatabase) {
    this.#db = db
    this.#inserts = new Batcher((records) => this.#insert(records), { maxBatch: MAX_BATCH, maxInFlight: 1 })
  }

  /** @throws {StoreUnavailableError} when the insert fails: nothing of its batch was stored. */
  async append(record: NewRecord): Promise<void> {
    try {
      await this.#inserts.add(record)
    } catch (error) {
      throw new StoreUnavailableError('the inbox cannot store events now', { cause: error })
    }
  }

  /** Sends what is waiting; resolves once every insert is done and announced. */
  async drain(): Promise<void> {
    await this.#inserts.drain()
    await this.#announcing
  }

  // A VALUES list, its values as parameters: sent as they are, where text arrays would be escaped
  // into one literal and parsed back (twice the CPU per row). One statement, one round trip: its
  // first part (materialized, so run whole before any row is read) locks the batch's chats, and
  // only then are rows read from it, each taking its id.
  async #insert(records: NewRecord[]): Promise<void> {
    const values: Array<string | number | null> = []
    const rows: string[] = []
    const chats: string[] = []
    for (const record of records) {
      const row = recordColumns(record)
      const n = values.push(row.chat_key, row.type, row.source, row.portal_json, row.body_kind, row.body, row.credentials, row.format)
      rows.push(`($${n - 7}, $${n - 6}, $${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n}::integer, ${NOW_MS}, ${NOW_MS})`)
      chats.push(`($${n - 7})`)
    }
    // Prepared by its number of rows: a few sizes come back again and again.
    await this.#db.query(
      prepared(
        `append_${records.length}`,
        `WITH locked AS MATERIALIZED (${lockChats(`(VALUES ${chats.join(', ')}) AS appended (chat_key)`)})
       INSERT INTO b24_inbox (${COLUMNS}, received_at, next_at)
       SELECT batch.* FROM (VALUES ${rows.join(', ')}) AS batch, locked`,
      ),
      values,
    )
    this.#announce()
  }

  // NOTIFY after the commit, on a connection that does not wait for the WAL flush: a notifying
  // commit takes a lock every other notifying commit waits on, so it stays out of the appends'
  // path. One at a time; inserts committed meanwhile make one more. A lost one costs a poll interval.
  #announce(): void {
    if (this.#announcing) {
      this.#announceAgain = true
      return
    }
    this.#announcing = this.#db
      .query(ANNOUNCE, [], this.#db.unsyncedPool)
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.#announcing = null
        if (this.#announceAgain) {
          this.#announceAgain = false
          this.#announce()
        }
      })
  }
}
