import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'

/**
 * A new name for one replica (one receiver in one process): `host:pid:random`. A receiver makes
 * one and hands it to everything that names its holder, so that an operator reads the same name
 * in the queue's claims, the leases (the poller's, the token refresh's) and `/health`.
 */
export function newReplicaId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
}
