import { ConfigError } from '../errors.ts'
import { sqliteStore } from './sqlite/sqlite-store.ts'
import type { StoreFactory } from './store-factory.ts'
import type { Store } from './store.ts'

/** What the receiver's options say of its store. */
export interface StoreChoice {
  /** A factory (`sqliteStore`, `postgresStore`), or a store of the user's own, opened already. */
  store?: StoreFactory | Store
  /** Short for `store: sqliteStore({ dataDir })`. */
  dataDir?: string
}

/**
 * The one place a receiver's store is chosen: the factory given; a store of the user's own as it
 * is (no key file beside it: it needs `secretKey`); else the embedded store under `dataDir`.
 * @throws {ConfigError} for both `store` and `dataDir`: which one holds the events would be a guess.
 */
export function chosenStore({ store, dataDir }: StoreChoice): StoreFactory {
  if (store && dataDir !== undefined) throw new ConfigError('dataDir: give it to the store instead (store: sqliteStore({ dataDir })), or leave store out')
  if (!store) return sqliteStore({ dataDir })
  return 'open' in store ? store : { kind: 'own', keyDir: null, open: () => store }
}
