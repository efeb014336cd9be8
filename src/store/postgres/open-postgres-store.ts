import { definedOnly } from '../defined-only.ts'
import type { Store } from '../store.ts'
import { AppendBatcher } from './append-batcher.ts'
import { InboxListener } from './inbox-listener.ts'
import type { PostgresConnection } from './postgres-connection.ts'
import { NOW_MS, PostgresDatabase } from './postgres-database.ts'
import { PostgresCandidates } from './postgres-candidates.ts'
import { PostgresDeadLetters } from './postgres-dead-letters.ts'
import { PostgresLeases } from './postgres-leases.ts'
import { PostgresMeta } from './postgres-meta.ts'
import { PostgresPortals } from './postgres-portals.ts'
import { PostgresQueue } from './postgres-queue.ts'
import { PostgresRestBuckets } from './postgres-rest-buckets.ts'
import { postgresStats } from './postgres-stats.ts'

export interface PostgresStoreOptions extends PostgresConnection {
  /** How long a handled event's key recognises a double delivery; 24 hours. */
  dedupWindowMs?: number
  /**
   * How long a replica's claim on the event it handles lasts unrenewed (it renews every third of
   * it while the handler runs): a replica that dies mid-event has it taken over after this. 10 s.
   */
  claimTimeoutMs?: number
  /** How often an idle replica looks for retries come due and claims expired; 1 s. */
  pollIntervalMs?: number
  /** How often a replica renews the claims it holds; a third of `claimTimeoutMs`. */
  renewEveryMs?: number
  /**
   * Chats a claim takes beyond those the worker has room for, their records held ready for its
   * next free slots (fewer round trips; another replica cannot take them meanwhile); 8.
   */
  claimAhead?: number
  /** Records of one chat a claim takes at most, handed out in turn; 8. */
  perChat?: number
  /** How often dedup keys past their window are forgotten; a minute. */
  purgeIntervalMs?: number
}

/** The defaults of {@link PostgresStoreOptions}. */
export const POSTGRES_DEFAULTS = { dedupWindowMs: 86400000, claimTimeoutMs: 10000, pollIntervalMs: 1000, purgeIntervalMs: 60000 }

/**
 * The shared store: one PostgreSQL database for every replica, this one's claims named
 * `replica`. Nothing is connected until the first call, which also brings the schema up to date;
 * a database that cannot be reached makes calls fail (appends with `StoreUnavailableError`: 503) and `unavailable()` say so, until it can.
 */
export function openPostgresStore(options: PostgresStoreOptions, replica: string): Store {
  const settings = { ...POSTGRES_DEFAULTS, ...definedOnly(options) }
  const db = new PostgresDatabase(options)
  const queue = new PostgresQueue(db, {
    owner: replica,
    dedupWindowMs: settings.dedupWindowMs,
    claimTimeoutMs: settings.claimTimeoutMs,
    pollIntervalMs: settings.pollIntervalMs,
    ...definedOnly({ renewEveryMs: options.renewEveryMs, claimAhead: options.claimAhead, perChat: options.perChat }),
  })
  const listener = new InboxListener(db, () => queue.notify())
  const batcher = new AppendBatcher(db)
  const purge = setInterval(() => void db.query(`DELETE FROM b24_seen WHERE expires_at <= ${NOW_MS}`).catch(() => undefined), settings.purgeIntervalMs).unref()

  let closing: Promise<void> | undefined
  return {
    append: (record) => batcher.append(record),
    queue,
    deadLetters: new PostgresDeadLetters(db),
    meta: new PostgresMeta(db),
    leases: new PostgresLeases(db),
    portals: new PostgresPortals(db),
    candidates: new PostgresCandidates(db),
    restBuckets: new PostgresRestBuckets(db),
    stats: () => postgresStats(db),
    unavailable: () => db.failure,
    close: () =>
      (closing ??= (async () => {
        clearInterval(purge)
        // What was appended before close is committed (or refused) first: the pool closes after it.
        await batcher.drain()
        await queue.close()
        await listener.close()
        await db.end()
      })()),
  }
}
