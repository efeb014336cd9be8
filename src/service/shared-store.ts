import { ConfigError } from '../errors.ts'
import { openPostgresStore } from '../store/postgres/open-postgres-store.ts'
import type { Store } from '../store/store.ts'
import type { ServiceConfig } from './load-config.ts'

/** The PostgreSQL store that replicas share when `DATABASE_URL` is set, else `null` (the embedded SQLite store under `DATA_DIR`). */
export function sharedStore(config: Pick<ServiceConfig, 'databaseUrl' | 'leaseTimeoutMs' | 'receiver'>): Store | null {
  if (config.databaseUrl === null) return null
  return openPostgresStore({ connectionString: config.databaseUrl, dedupWindowMs: config.receiver.dedupWindowMs, claimTimeoutMs: config.leaseTimeoutMs })
}

/**
 * Replicas must accept the same tokens and open the same seals, so neither may be made up
 * locally: a generated token or key file would differ per replica. In application mode the
 * portals' tokens are in the shared store, so `B24_APP_TOKENS` may be empty.
 * @throws {ConfigError} for `DATABASE_URL` without `B24_SECRET_KEY`, or without `B24_APP_TOKENS` outside application mode.
 */
export function checkReplicaConfig(config: Pick<ServiceConfig, 'databaseUrl' | 'appTokens' | 'receiver'>): void {
  if (config.databaseUrl === null) return
  if (config.appTokens.length === 0 && config.receiver.app === undefined) {
    throw new ConfigError(
      'DATABASE_URL needs B24_APP_TOKENS (or application mode: B24_CLIENT_ID and B24_CLIENT_SECRET): replicas must accept the same tokens, and a generated local token would differ per replica',
    )
  }
  if (config.receiver.secretKey === undefined) throw new ConfigError('DATABASE_URL needs B24_SECRET_KEY, the same on every replica: it seals the credentials they share (openssl rand -hex 32)')
}
