import { RECEIVER_DEFAULTS } from '../receiver/receiver-options.ts'
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.ts'
import type { Store } from '../store/store.ts'
import type { ServiceConfig } from './load-config.ts'
import { sharedStore } from './shared-store.ts'

/** The store the service of `config` uses, for a command beside it: the shared one at `DATABASE_URL`, else the embedded one under `DATA_DIR`. */
export function openStore(config: Pick<ServiceConfig, 'databaseUrl' | 'leaseTimeoutMs' | 'receiver'>): Store {
  const { receiver } = config
  return (
    sharedStore(config) ??
    openSqliteStore({
      dataDir: receiver.dataDir as string,
      durability: receiver.durability ?? RECEIVER_DEFAULTS.durability,
      dedupWindowMs: receiver.dedupWindowMs ?? RECEIVER_DEFAULTS.dedupWindowMs,
    })
  )
}
