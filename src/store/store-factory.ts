import type { Logger } from 'pino'
import type { Store } from './store.ts'

/** What the receiver tells a store it opens. */
export interface StoreContext {
  /** The receiver's replica name (`newReplicaId()` in src/replica.ts): the holder named by its claims and leases. */
  replica: string
  /** Where the store says what happened to it (removed, unreachable, back). */
  logger: Logger
}

/**
 * A store not opened yet, as the receiver's `store` option takes it: `sqliteStore({ dataDir })`
 * (the default, one process) or `postgresStore({ connectionString })` (replicas). The receiver
 * opens it at `start()`, so one place chooses the store and the receiver names the replica.
 */
export interface StoreFactory {
  /** Which store, for messages: `sqlite`, `postgres`, or a name of your own. */
  readonly kind: string
  /**
   * A directory of this store's where a generated key file may live (SQLite's `dataDir`), or
   * `null`: the receiver's `secretKey` must then be given (replicas must share it).
   */
  readonly keyDir: string | null
  open(context: StoreContext): Store
}
