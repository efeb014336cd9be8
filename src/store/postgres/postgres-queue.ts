import type { Queue, StoredRecord } from '../store.ts'
import { STORED_FORMAT } from '../format.ts'
import { toRecord, type Row } from '../rows.ts'
import { NOW_MS, type PostgresDatabase } from './postgres-database.ts'

export interface PostgresQueueOptions {
  /** Who claims: this replica, as its claims name it. */
  owner: string
  dedupWindowMs: number
  /** How long a claim lasts unrenewed: a replica that dies mid-event gives it up after this. */
  claimTimeoutMs: number
  /** How often an idle queue looks for what no notification announced (retries due, claims expired). */
  pollIntervalMs: number
}

// The heads of the chats that nobody holds and that are due, oldest first, claimed in one
// statement. The chats are walked along the (chat_key, id) index, one probe per chat with
// something pending, however deep each line is. Two replicas racing for one head: the second
// re-reads the row once the first commits, sees it claimed, and leaves it. A head of a newer
// format than this version's is left alone, and holds its chat here: order is kept.
const CLAIM = `WITH RECURSIVE clock AS MATERIALIZED (SELECT ${NOW_MS} AS now),
chats AS (
  (SELECT chat_key FROM b24_inbox WHERE status = 'pending' ORDER BY chat_key LIMIT 1)
  UNION ALL
  SELECT (SELECT i.chat_key FROM b24_inbox i WHERE i.status = 'pending' AND i.chat_key > c.chat_key ORDER BY i.chat_key LIMIT 1)
  FROM chats c WHERE c.chat_key IS NOT NULL
),
heads AS (
  SELECT head.id FROM chats c CROSS JOIN clock
  CROSS JOIN LATERAL (SELECT id, next_at, format FROM b24_inbox i WHERE i.status = 'pending' AND i.chat_key = c.chat_key ORDER BY id LIMIT 1) head
  WHERE c.chat_key IS NOT NULL AND head.next_at <= clock.now AND head.format <= ${STORED_FORMAT}
    AND NOT EXISTS (SELECT 1 FROM b24_inbox x WHERE x.chat_key = c.chat_key AND x.claimed_by IS NOT NULL AND x.status = 'pending' AND x.claimed_until > clock.now)
  ORDER BY head.id LIMIT $3
)
UPDATE b24_inbox SET claimed_by = $1, claimed_until = clock.now + $2 FROM clock
WHERE b24_inbox.id IN (SELECT id FROM heads) AND (b24_inbox.claimed_until IS NULL OR b24_inbox.claimed_until <= clock.now)
RETURNING b24_inbox.*`

const RENEW = `UPDATE b24_inbox SET claimed_until = ${NOW_MS} + $2 WHERE id = ANY($3) AND claimed_by = $1`

// One record per statement: a statement deleting several rows could lock them in another order
// than a renewal of the same rows, and deadlock with it.
const COMPLETE = `WITH done AS (DELETE FROM b24_inbox WHERE id = $1 AND status = 'pending')
INSERT INTO b24_seen (key, expires_at) SELECT $2, ${NOW_MS} + $3 WHERE $2::text IS NOT NULL
ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at`

const UNCLAIMED = 'claimed_by = NULL, claimed_until = NULL'

/**
 * The PostgreSQL store's queue, shared by every replica. A claimed record carries its claimant
 * and a deadline that this replica renews while the handler runs; a chat with an unexpired claim
 * hands out nothing else, so a chat's records go one at a time, in order, across replicas. A
 * replica that dies stops renewing: after `claimTimeoutMs` another takes the record over.
 */
export class PostgresQueue implements Queue {
  readonly #db: PostgresDatabase
  readonly #options: PostgresQueueOptions
  /** Records this replica claimed and has not finished: renewed until then. */
  readonly #held = new Set<number>()
  readonly #listeners = new Set<() => void>()
  /**
   * Releases on their way to the database: the store closes after them. A worker awaits its own,
   * but not those of a claim that answers, or a handler that finishes, after its stop's deadline:
   * they may start just before the store closes.
   */
  readonly #releasing = new Set<Promise<unknown>>()
  readonly #renewer: NodeJS.Timeout
  #wake: NodeJS.Timeout | undefined
  #wakeAt = Infinity

  constructor(db: PostgresDatabase, options: PostgresQueueOptions) {
    this.#db = db
    this.#options = options
    // Three renewals per claim timeout: one lost to a slow database still leaves two.
    this.#renewer = setInterval(() => void this.#renew(), options.claimTimeoutMs / 3).unref()
  }

  async claim(limit: number): Promise<StoredRecord[]> {
    this.#arm(this.#options.pollIntervalMs)
    const rows = await this.#db.query<Row>(CLAIM, [this.#options.owner, this.#options.claimTimeoutMs, limit], this.#db.unsyncedPool)
    rows.sort((a, b) => a.id - b.id)
    for (const row of rows) this.#held.add(row.id)
    return rows.map(toRecord)
  }

  async seen(key: string): Promise<boolean> {
    return (await this.#db.query(`SELECT 1 FROM b24_seen WHERE key = $1 AND expires_at > ${NOW_MS}`, [key])).length > 0
  }

  async complete(id: number, key: string | null): Promise<void> {
    await this.#db.query(COMPLETE, [id, key, this.#options.dedupWindowMs])
    this.#finish(id)
  }

  async retry(id: number, attempts: number, nextAt: number, error: string): Promise<void> {
    // Due times are the database's: a delay, not this host's clock, crosses over.
    const delayMs = Math.max(0, nextAt - Date.now())
    await this.#db.query(`UPDATE b24_inbox SET attempts = $2, next_at = ${NOW_MS} + $3, last_error = $4, ${UNCLAIMED} WHERE id = $1 AND status = 'pending'`, [id, attempts, delayMs, error])
    this.#arm(delayMs)
    this.#finish(id)
  }

  async bury(id: number, attempts: number, error: string): Promise<void> {
    await this.#db.query(`UPDATE b24_inbox SET status = 'dead', attempts = $2, last_error = $3, ${UNCLAIMED} WHERE id = $1`, [id, attempts, error])
    this.#finish(id)
  }

  async release(id: number): Promise<void> {
    this.#held.delete(id)
    // Given back at once where the database can be reached; otherwise the claim expires on its own.
    const released = this.#db
      .query(`UPDATE b24_inbox SET ${UNCLAIMED} WHERE id = $1 AND claimed_by = $2`, [id, this.#options.owner], this.#db.unsyncedPool)
      .catch(() => undefined)
      .finally(() => {
        this.#releasing.delete(released)
        this.notify()
      })
    this.#releasing.add(released)
    await released
  }

  onAvailable(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Something may be claimable: a notification from the database, or a reconnection after which one may have been missed. */
  notify(): void {
    for (const listener of this.#listeners) listener()
  }

  /** Stops renewing and waking; resolves once the releases under way are written. */
  async close(): Promise<void> {
    clearInterval(this.#renewer)
    clearTimeout(this.#wake)
    await Promise.all(this.#releasing)
  }

  #finish(id: number): void {
    this.#held.delete(id)
    this.notify()
  }

  async #renew(): Promise<void> {
    if (this.#held.size === 0) return
    // A renewal that fails is tried again at the next tick; the claim outlives two of them.
    await this.#db.query(RENEW, [this.#options.owner, this.#options.claimTimeoutMs, [...this.#held]], this.#db.unsyncedPool).catch(() => undefined)
  }

  // Wakes the listeners within `delayMs` (a retry due, or the poll interval), keeping an earlier wake-up.
  #arm(delayMs: number): void {
    const at = Date.now() + delayMs
    if (this.#wake && at >= this.#wakeAt) return
    clearTimeout(this.#wake)
    this.#wakeAt = at
    this.#wake = setTimeout(() => {
      this.#wake = undefined
      this.#wakeAt = Infinity
      this.notify()
    }, delayMs)
    this.#wake.unref()
  }
}
