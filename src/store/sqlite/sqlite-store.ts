import { definedOnly } from '../defined-only.ts'
import { DEAD_LETTER_RETENTION_MS } from '../retention.ts'
import { reopeningStore } from '../reopening-store.ts'
import type { StoreFactory } from '../store-factory.ts'
import type { Durability } from './durability.ts'
import { openSqliteStore } from './open-sqlite-store.ts'

export type { Durability }

/** What {@link sqliteStore} takes; each unset one is its {@link SQLITE_DEFAULTS} entry. */
export interface SqliteStoreOptions {
  /** The directory of `inbox.db` (and of `secret.key` when no `secretKey` is given); `./data`. */
  dataDir?: string
  /** How far a stored event survives: `process` (a crash or kill; default) or `power` (also a power loss). */
  durability?: Durability
  /** How long a handled event's key recognises a double delivery; 24 hours. */
  dedupWindowMs?: number
  /**
   * How long a dead letter is kept after its last attempt, then dropped in the background (checked
   * every minute, one log line per purge that dropped something); an uninstalled portal's row,
   * once nothing stored refers to it, as long after its uninstall. 30 days (`DLQ_RETENTION_DAYS`).
   */
  deadLetterRetentionMs?: number
  /**
   * Whether this store drops, every minute, the dedup keys past their window and what is past its
   * retention: true. False for a store a command opens beside the running service (`dlq`,
   * `portals`, `keys`): the service's own settings decide what goes, not the command's shell.
   */
  purges?: boolean
}

/** The defaults of {@link SqliteStoreOptions}. */
export const SQLITE_DEFAULTS: Required<SqliteStoreOptions> = { dataDir: './data', durability: 'process', dedupWindowMs: 86400000, deadLetterRetentionMs: DEAD_LETTER_RETENTION_MS, purges: true }

/**
 * The embedded store, one process: a SQLite database under `dataDir`. One that cannot be opened
 * yet (an unwritable or corrupt directory) refuses events with 503 and is tried again until it opens.
 */
export function sqliteStore(options: SqliteStoreOptions = {}): StoreFactory {
  const settings = { ...SQLITE_DEFAULTS, ...definedOnly(options) }
  return {
    kind: 'sqlite',
    keyDir: settings.dataDir,
    open: ({ logger }) => reopeningStore(() => openSqliteStore({ ...settings, logger }), logger),
  }
}
