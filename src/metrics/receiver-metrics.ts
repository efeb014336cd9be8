import { Registry } from 'prom-client'
import type { EventCounts, StoreStats } from '../../schemas/health.ts'
import type { RestObserver } from '../bitrix/rest-observer.ts'
import type { IngestObserver } from '../door/ingest.ts'
import type { WorkerObserver } from '../worker/worker.ts'
import type { DoorObserver } from '../door/webhook-door.ts'
import { doorMetrics } from './door-metrics.ts'
import { eventCounts } from './event-counts.ts'
import { pollerMetrics, type PollerView } from './poller-metrics.ts'
import { restMetrics } from './rest-metrics.ts'
import { storeMetrics } from './store-metrics.ts'
import { workerMetrics } from './worker-metrics.ts'

/** Where the figures read on each scrape come from; each may say there is nothing yet. */
export interface MetricsSources {
  /** The store's figures, `null` before there is a store. */
  stats: () => Promise<StoreStats> | null
  /** The poller's state, `null` when there is none. */
  poller: () => PollerView | null
  /** Events being handled now. */
  inFlight: () => number
  /** How long a scrape waits for `stats`; 2000 ms. */
  statsTimeoutMs?: number
}

/** A receiver's metrics: its own registry, the observers the door, the ingest and the worker report to, and what `/health` reads of them. */
export interface ReceiverMetrics {
  /** Holds only this receiver's metrics (never prom-client's global one). */
  registry: Registry
  door: DoorObserver
  ingest: IngestObserver
  worker: WorkerObserver
  /** The REST calls handlers make: what the pacer reports to. */
  rest: RestObserver
  /** The event counters since start, as the metrics count them. */
  events(): Promise<EventCounts>
  /** When an event was last stored (ISO), `null` before the first. */
  lastEventAt(): string | null
}

/**
 * Makes a receiver's metrics (names in README "Metrics"), in a registry of its own. Counters and
 * histograms are fed by the observers; the store, poller and in-flight gauges are read from
 * `sources` on each scrape. No default process metrics: prom-client's set starts an event-loop
 * monitor and a GC observer that cannot be stopped; whoever wants them registers them on `registry`.
 */
export function createReceiverMetrics(sources: MetricsSources): ReceiverMetrics {
  const registry = new Registry()
  const { door, ingest, lastStoredAt } = doorMetrics(registry)
  const worker = workerMetrics(registry, sources.inFlight)
  storeMetrics(registry, sources.stats, sources.statsTimeoutMs)
  pollerMetrics(registry, sources.poller)
  const rest = restMetrics(registry)
  return { registry, door, ingest, worker, rest, events: async () => ({ ...(await eventCounts(registry)), inFlight: sources.inFlight() }), lastEventAt: lastStoredAt }
}
