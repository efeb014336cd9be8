import { pino } from 'pino'
import { newReplicaId } from '../replica.ts'
import { postgresStore } from '../store/postgres/postgres-store.ts'
import { sqliteStore } from '../store/sqlite/sqlite-store.ts'
import type { StoreFactory } from '../store/store-factory.ts'
import type { Store } from '../store/store.ts'
import type { ServiceConfig } from './load-config.ts'

/** What of the service's configuration chooses and sets its store. */
export type StoreConfig = Pick<ServiceConfig, 'databaseUrl' | 'dataDir' | 'durability' | 'dedupWindowMs' | 'deadLetterRetentionMs' | 'leaseTimeoutMs'>

/**
 * The store of the service and of the commands beside it: the shared one at `DATABASE_URL`
 * (replicas), else the embedded one under `DATA_DIR`; `purges` as the store factories take it.
 */
export function serviceStore(config: StoreConfig, purges = true): StoreFactory {
  const { databaseUrl, dataDir, durability, dedupWindowMs, deadLetterRetentionMs, leaseTimeoutMs } = config
  return databaseUrl === null
    ? sqliteStore({ dataDir, durability, dedupWindowMs, deadLetterRetentionMs, purges })
    : postgresStore({ connectionString: databaseUrl, dedupWindowMs, deadLetterRetentionMs, claimTimeoutMs: leaseTimeoutMs, purges })
}

/**
 * The service's store opened for a command (`dlq`, `portals`, `keys`), which claims nothing,
 * leases nothing and purges nothing in the background (the service's settings decide what goes):
 * one that cannot be opened says why at its first call, which the command prints.
 */
export function openServiceStore(config: StoreConfig): Store {
  return serviceStore(config, false).open({ logger: pino({ level: 'silent' }), replica: newReplicaId() })
}
