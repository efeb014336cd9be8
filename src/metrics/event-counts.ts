import type { Metric, Registry } from 'prom-client'
import type { EventCounts } from '../../schemas/health.ts'

/**
 * The counters `/health` shows, read from the metrics that count them (README "Metrics"): one
 * count for both. Accepted: stored through either door; failed: attempts retried or dead-lettered.
 */
export async function eventCounts(registry: Registry): Promise<Omit<EventCounts, 'inFlight'>> {
  const sum = async (name: string, where: (labels: Record<string, unknown>) => boolean = () => true) => {
    const { values } = await (registry.getSingleMetric(name) as Metric).get()
    return values.filter((value) => where(value.labels)).reduce((total, value) => total + value.value, 0)
  }
  return {
    accepted: await sum('b24_events_accepted_total', (labels) => String(labels.status) === '200'),
    duplicates: await sum('b24_events_duplicates_total'),
    rejected: await sum('b24_events_rejected_total'),
    failed: (await sum('b24_events_retried_total')) + (await sum('b24_events_dead_lettered_total')),
    claimsLost: await sum('b24_claims_lost_total'),
  }
}
