import { Gauge, type Registry } from 'prom-client'
import type { StoreStats } from '../../schemas/health.ts'

/** How long a scrape waits for the store's figures before it reports them unknown. */
export const STATS_TIMEOUT_MS = 2000

/**
 * The store's figures, read on each scrape from `stats` (`null` while there is no store yet):
 * `b24_inbox_depth`, `b24_inbox_oldest_pending_age_seconds`, `b24_inbox_retrying`,
 * `b24_dead_letters`, and `b24_store_up` (1 when the store answered). A store that fails or does
 * not answer within `timeoutMs` leaves its figures `NaN` (unknown, not zero) and `b24_store_up` 0.
 */
export function storeMetrics(registry: Registry, stats: () => Promise<StoreStats> | null, timeoutMs = STATS_TIMEOUT_MS): void {
  // Every gauge of one scrape shares one call (a registry collects its metrics all at once).
  let pending: Promise<StoreStats | null> | null = null
  const read = () =>
    (pending ??= readStats(stats, timeoutMs).finally(() => {
      pending = null
    }))
  const gauge = (name: string, help: string, value: (figures: StoreStats | null) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        this.set(value(await read()))
      },
    })
  const figure = (pick: (figures: StoreStats) => number) => (figures: StoreStats | null) => (figures ? pick(figures) : Number.NaN)
  gauge('b24_store_up', 'Whether the store answered this scrape (1) or not (0)', (figures) => (figures ? 1 : 0))
  gauge('b24_inbox_depth', 'Events stored and not yet handled (NaN: the store did not answer)', figure((figures) => figures.depth))
  gauge('b24_inbox_oldest_pending_age_seconds', 'Age of the oldest event not yet handled, 0 when none (NaN: the store did not answer)', figure((figures) => (figures.oldestPendingAgeMs ?? 0) / 1000))
  gauge('b24_inbox_retrying', 'Events waiting for a retry (NaN: the store did not answer)', figure((figures) => figures.retrying))
  gauge('b24_dead_letters', 'Events in the dead letter (NaN: the store did not answer)', figure((figures) => figures.deadLetters))
}

/** The store's figures, or `null` when there is no store, it fails, or it takes longer than `timeoutMs`. */
async function readStats(stats: () => Promise<StoreStats> | null, timeoutMs: number): Promise<StoreStats | null> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<null>((resolve) => (timer = setTimeout(resolve, timeoutMs, null)))
  const figures = await Promise.race([Promise.resolve().then(stats).catch(() => null), late])
  clearTimeout(timer)
  return figures
}
