import { Counter, type Registry } from 'prom-client'
import type { IngestObserver } from '../door/ingest.ts'
import type { DoorObserver } from '../door/webhook-door.ts'
import type { Source } from '../store/store.ts'

/** The statuses the webhook door answers (DESIGN.md's HTTP table), their series there from the start. */
const DOOR_STATUSES = [200, 400, 401, 413, 415, 503]

/** What the doors are told to count, and when an event was last stored (`/health`'s `lastEventAt`, ISO; `null` before the first). */
export interface DoorFigures {
  door: DoorObserver
  ingest: IngestObserver
  lastStoredAt(): string | null
}

/**
 * `b24_events_accepted_total{door, status}`: what each door answered. A stored event counts as
 * status 200 whichever door it came through (a polled one has no HTTP answer: stored is its 200).
 */
export function doorMetrics(registry: Registry): DoorFigures {
  // Every request passes here: it adds one to a number, and prom-client reads the numbers on
  // scrape (a labelled `inc` costs about 0.4 µs: it hashes the labels and copies the series).
  const webhook = new Map(DOOR_STATUSES.map((status) => [status, { count: 0 }]))
  const stored: Record<Source, { count: number }> = { webhook: webhook.get(200) as { count: number }, poll: { count: 0 } }
  let lastStoredAt: number | null = null
  new Counter({
    name: 'b24_events_accepted_total',
    help: 'Webhook requests by the status the door answered (200: stored), and polled events stored (status 200)',
    labelNames: ['door', 'status'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const [status, { count }] of webhook) this.inc({ door: 'webhook', status }, count)
      this.inc({ door: 'poll', status: 200 }, stored.poll.count)
    },
  })
  return {
    door: {
      refused(status) {
        const cell = webhook.get(status)
        if (cell) cell.count++
        else webhook.set(status, { count: 1 })
      },
    },
    ingest: {
      stored(source) {
        stored[source].count++
        lastStoredAt = Date.now()
      },
    },
    lastStoredAt: () => (lastStoredAt === null ? null : new Date(lastStoredAt).toISOString()),
  }
}
