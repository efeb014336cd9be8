import type { StoreFactory } from '../store-factory.ts'
import { openPostgresStore, type PostgresStoreOptions } from './open-postgres-store.ts'

export type { PostgresStoreOptions }

/**
 * The shared store, for replicas: one PostgreSQL database at `connectionString` for all of them.
 * It keeps no key file: every replica is given the same `secretKey`.
 */
export function postgresStore(options: PostgresStoreOptions): StoreFactory {
  return { kind: 'postgres', keyDir: null, open: ({ replica, logger }) => openPostgresStore(options, replica, logger) }
}
