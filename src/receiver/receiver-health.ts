import type { Health, Readiness, RestBucket } from '../../schemas/health.ts'
import type { ReceiverMetrics } from '../metrics/receiver-metrics.ts'
import { version } from '../version.ts'
import type { Lifecycle } from './lifecycle.ts'

/** What `/ready` and `/health` answer, read from a receiver's lifecycle and its metrics. */
export interface ReceiverHealth {
  /** Whether events can be taken now, and why not: starting, closing, a store that cannot be written, a poller or the application stopped for good. */
  ready(): Readiness
  health(): Promise<Health>
}

/** How many portals' buckets `/health` shows. */
export const HEALTH_BUCKETS = 5

/** `replica`: this receiver's name, as its claims and leases say it. `pacer`: its REST pacer, whose view of the portals' buckets `/health` shows. */
export function receiverHealth(
  lifecycle: Pick<Lifecycle, 'phase' | 'store' | 'running' | 'startedAt'>,
  metrics: Pick<ReceiverMetrics, 'events' | 'lastEventAt'>,
  replica: string,
  pacer?: { levels(count: number): RestBucket[] },
): ReceiverHealth {
  const ready = (): Readiness => {
    const { phase, store, running } = lifecycle
    const reason = phase === 'idle' || !store ? 'starting' : phase === 'closing' ? 'closing' : (store.unavailable() ?? (running ? (running.poller?.fatal ?? running.application?.fatal ?? null) : 'starting'))
    return { ready: reason === null, reason }
  }
  return {
    ready,
    async health() {
      const { ready: isReady, reason } = ready()
      const running = lifecycle.running
      return {
        status: isReady ? 'ok' : 'degraded',
        version,
        node: process.version,
        replica,
        uptimeSeconds: Math.round((Date.now() - lifecycle.startedAt) / 1000),
        ready: isReady,
        reason,
        events: await metrics.events(),
        lastEventAt: metrics.lastEventAt(),
        // An unavailable store: /health says so by leaving its figures out.
        inbox: (await lifecycle.store?.stats().catch(() => null)) ?? null,
        poller: running?.poller?.state() ?? null,
        app: (await running?.application?.health().catch(() => null)) ?? null,
        rest: { buckets: pacer?.levels(HEALTH_BUCKETS) ?? [] },
      }
    },
  }
}
