import { ConfigError } from '../errors.ts'
import type { ServiceConfig } from './load-config.ts'

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
