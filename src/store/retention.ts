import type { Logger } from 'pino'
import { describeDuration } from '../duration.ts'
import type { DeadLetters, Portals } from './store.ts'

/** How long a dead letter is kept after its last attempt (`DLQ_RETENTION_DAYS`): 30 days. */
export const DEAD_LETTER_RETENTION_MS = 30 * 86_400_000

/** Dead letters deleted per statement: a purge never holds the store (or SQLite's event loop) long. */
export const PURGE_BATCH = 500

/**
 * Deletes every dead letter whose last attempt came due before `before`, {@link PURGE_BATCH} (or
 * `batch`) at a time, each batch its own statement (SQLite: its own group commit, the door's
 * appends going in between); stops early once `stopped()` says so (the store is closing).
 * Resolves to how many went.
 */
export async function purgeDeadLetters(deadLetters: Pick<DeadLetters, 'purge'>, before: number, { batch = PURGE_BATCH, stopped = () => false }: { batch?: number; stopped?: () => boolean } = {}): Promise<number> {
  let dropped = 0
  for (let last = batch; last === batch && !stopped(); ) {
    last = await deadLetters.purge(before, batch)
    dropped += last
  }
  return dropped
}

/** What a retention pass looks at: the store's dead letter and portals. */
export interface Retained {
  deadLetters: Pick<DeadLetters, 'purge'>
  portals: Pick<Portals, 'purge'>
}

/**
 * A store's retention, run beside its dedup-key purge: each call drops the dead letters whose
 * last attempt is older than `retentionMs`, then the rows of portals uninstalled as long ago that
 * nothing refers to any more, and logs one line at `info` when it dropped something (how many,
 * older than what; never a body or a token). A call while the last one still runs does nothing.
 * Failures reach the caller (the store's purge says so through `unavailable()` and tries again).
 */
export function retention(store: Retained, retentionMs: number, logger?: Pick<Logger, 'info'>, stopped: () => boolean = () => false): () => Promise<void> {
  let running = false
  return async () => {
    if (running) return
    running = true
    try {
      const before = Date.now() - retentionMs
      const deadLetters = await purgeDeadLetters(store.deadLetters, before, { stopped })
      const portals = stopped() ? 0 : await store.portals.purge(before)
      if (deadLetters + portals === 0) return
      const olderThan = describeDuration(retentionMs)
      logger?.info(
        { deadLetters, portals, olderThan, before: new Date(before).toISOString() },
        `retention: dropped ${deadLetters} dead letter${deadLetters === 1 ? '' : 's'} and ${portals} uninstalled portal${portals === 1 ? '' : 's'} older than ${olderThan}`,
      )
    } finally {
      running = false
    }
  }
}
