import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Source } from '../store/store.ts'
import type { SkipReason } from '../worker/steps/attempt.ts'
import type { Settlement, WorkerObserver } from '../worker/worker.ts'
import { labelledCache } from './labelled-cache.ts'

/** Event types given a series of their own; the rest share `type="other"`. */
export const MAX_TYPE_LABELS = 100

/** Handlers run from a millisecond to the handler timeout (30 s by default). */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** From a few milliseconds (an idle worker) to minutes (a backlog). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

/** Settlements after which handlers ran: their dispatch time is a handler's duration. */
const HANDLERS_RAN: Record<Settlement, boolean> = { handled: true, retried: true, 'dead-lettered': true, skipped: false, rejected: false, postponed: false, lost: false }

/** What each counter counts: a settlement, a record skipped by why its chain stopped, a postponed one as deferred. */
type Counted = Exclude<Settlement, 'skipped' | 'postponed'> | SkipReason | 'deferred'
const SKIPPED: Record<SkipReason, Counted> = { duplicate: 'duplicate', forgotten: 'forgotten' }
const counted = (settlement: Settlement, skipped: string | undefined): Counted =>
  settlement === 'skipped' ? SKIPPED[skipped as SkipReason] : settlement === 'postponed' ? 'deferred' : settlement

/**
 * The worker's counters by event type (handled, duplicates, rejected, retried, dead-lettered),
 * the handler duration histogram by type, the post-to-handler latency histogram by door, and the
 * handlers in flight (read on scrape from `inFlight`).
 */
export function workerMetrics(registry: Registry, inFlight: () => number): WorkerObserver {
  const registers = [registry]
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ['type'] as const, registers })
  const counters: Record<Counted, Counter<'type'>> = {
    handled: counter('b24_events_handled_total', 'Events handled (every handler succeeded), by event type'),
    duplicate: counter('b24_events_duplicates_total', 'Double deliveries recognised and not handled again, by event type'),
    rejected: counter('b24_events_rejected_total', 'Events that did not decode, moved to the dead letter, by event type'),
    retried: counter('b24_events_retried_total', 'Failed attempts to be retried after a pause, by event type'),
    'dead-lettered': counter('b24_events_dead_lettered_total', 'Events moved to the dead letter after their last failed attempt, by event type'),
    deferred: counter('b24_events_deferred_total', "Times an event was held back because its portal's install is not confirmed yet (application mode), by event type"),
    forgotten: counter('b24_events_forgotten_total', 'Events dropped unhandled because their install was refused or their portal uninstalled with CLEAN (application mode), by event type'),
    lost: counter('b24_claims_lost_total', 'Attempts abandoned because their claim was lost (it lapsed unrenewed and another holder took the event over), by event type'),
  }
  const duration = new Histogram({
    name: 'b24_handler_duration_seconds',
    help: 'Time an attempt spent in decoding and handlers, attempts that ran handlers only, by event type',
    labelNames: ['type'] as const,
    buckets: DURATION_BUCKETS,
    registers,
  })
  const latency = new Histogram({
    name: 'b24_post_to_handler_seconds',
    help: 'Time from an event being stored to its first attempt starting, by door',
    labelNames: ['door'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  })
  new Gauge({
    name: 'b24_worker_in_flight',
    help: 'Events being handled now',
    registers,
    collect() {
      this.set(inFlight())
    },
  })
  // A type's counters are shown from its first event on, at 0 until counted.
  const zeroed = (counter: Counter<'type'>, type: string) => {
    const child = counter.labels({ type })
    child.inc(0)
    return child
  }
  const byType = labelledCache(
    (type) => ({
      handled: zeroed(counters.handled, type),
      duplicate: zeroed(counters.duplicate, type),
      rejected: zeroed(counters.rejected, type),
      retried: zeroed(counters.retried, type),
      'dead-lettered': zeroed(counters['dead-lettered'], type),
      deferred: zeroed(counters.deferred, type),
      forgotten: zeroed(counters.forgotten, type),
      lost: zeroed(counters.lost, type),
      duration: duration.labels({ type }),
    }),
    MAX_TYPE_LABELS,
  )
  const latencyByDoor: Record<Source, Histogram.Internal<'door'>> = { webhook: latency.labels({ door: 'webhook' }), poll: latency.labels({ door: 'poll' }) }
  return {
    attempting(record) {
      // The first attempt only: a retry's wait is its backoff, not the pipeline's latency. Clamped at 0:
      // with replicas, `receivedAt` may come from another clock.
      if (record.attempts === 0) latencyByDoor[record.source].observe(Math.max(0, Date.now() - record.receivedAt) / 1000)
    },
    settled(record, settlement, ms, skipped) {
      const children = byType(record.type)
      children[counted(settlement, skipped)].inc()
      if (HANDLERS_RAN[settlement]) children.duration.observe(ms / 1000)
    },
  }
}
