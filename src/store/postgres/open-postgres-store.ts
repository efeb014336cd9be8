import type { Logger } from 'pino'
import { definedOnly } from '../defined-only.ts'
import { DEAD_LETTER_RETENTION_MS, retention } from '../retention.ts'
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
import { vacuumBusyTables } from './vacuum-busy-tables.ts'

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
  /**
   * How often dedup keys past their window are forgotten, and dead letters and uninstalled portals
   * past their retention dropped; a minute.
   */
  purgeIntervalMs?: number
  /**
   * How often the tables every event turns over are vacuumed (./vacuum-busy-tables.ts), so that
   * their dead rows' room is used again before the next ones pile up; 10 s.
   */
  vacuumIntervalMs?: number
  /**
   * How long a dead letter is kept after its last attempt, then dropped in the background (checked
   * every minute by every replica, harmlessly at once; one log line per purge that dropped
   * something); an uninstalled portal's row, once nothing stored refers to it, as long after its
   * uninstall. 30 days (`DLQ_RETENTION_DAYS`).
   */
  deadLetterRetentionMs?: number
  /**
   * Whether this store drops, every minute, the dedup keys past their window and what is past its
   * retention, and vacuums its busy tables: true. False for a store a command opens beside the running service (`dlq`,
   * `portals`, `keys`): the service's own settings decide what goes, not the command's shell.
   */
  purges?: boolean
}

/** The defaults of {@link PostgresStoreOptions}. */
export const POSTGRES_DEFAULTS = { dedupWindowMs: 86400000, claimTimeoutMs: 10000, pollIntervalMs: 1000, purgeIntervalMs: 60000, vacuumIntervalMs: 10000, deadLetterRetentionMs: DEAD_LETTER_RETENTION_MS, purges: true }

/**
 * The shared store: one PostgreSQL database for every replica, this one's claims named
 * `replica`. Nothing is connected until the first call, which also brings the schema up to date;
 * a database that cannot be reached makes calls fail (appends with `StoreUnavailableError`: 503) and `unavailable()` say so, until it can.
 * `logger` is told (`info`) of each purge that dropped dead letters or portals past their retention.
 */
export function openPostgresStore(options: PostgresStoreOptions, replica: string, logger?: Pick<Logger, 'info'>): Store {
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
  const deadLetters = new PostgresDeadLetters(db)
  const portals = new PostgresPortals(db)
  let closed = false
  const retain = retention({ deadLetters, portals }, settings.deadLetterRetentionMs, logger, () => closed)
  let purging: Promise<void> | undefined
  const purgeOnce = () => {
    purging ??= db
      .query(`DELETE FROM b24_seen WHERE expires_at <= ${NOW_MS}`)
      .then(retain)
      .catch(() => undefined)
      .finally(() => (purging = undefined))
  }
  const purge = settings.purges ? setInterval(purgeOnce, settings.purgeIntervalMs).unref() : undefined
  // Only after appends: an idle replica spends no transaction on it (nor a connection).
  let appended = false
  let vacuuming: Promise<void> | undefined
  const vacuumOnce = () => {
    if (!appended) return
    appended = false
    vacuuming ??= vacuumBusyTables(db)
      .catch(() => undefined)
      .finally(() => (vacuuming = undefined))
  }
  const vacuum = settings.purges ? setInterval(vacuumOnce, settings.vacuumIntervalMs).unref() : undefined

  let closing: Promise<void> | undefined
  return {
    append: (record) => {
      appended = true
      return batcher.append(record)
    },
    queue,
    deadLetters,
    meta: new PostgresMeta(db),
    leases: new PostgresLeases(db),
    portals,
    candidates: new PostgresCandidates(db),
    restBuckets: new PostgresRestBuckets(db),
    stats: () => postgresStats(db),
    unavailable: () => db.failure,
    close: () =>
      (closing ??= (async () => {
        clearInterval(purge)
        clearInterval(vacuum)
        // A purge under way stops after its batch, before the pool closes.
        closed = true
        await purging
        await vacuuming
        // What was appended before close is committed (or refused) first: the pool closes after it.
        await batcher.drain()
        await queue.close()
        await listener.close()
        await db.end()
      })()),
  }
}
