import { Gauge, type Registry } from 'prom-client'
import { PollerStateSchema, type PollerState } from '../../schemas/health.ts'

/** What the metrics read of the poller's state: the rest of it may change without them noticing. */
export type PollerView = Pick<PollerState, 'mode' | 'state' | 'lastPollAt'>

/** Every state the schema allows (its union's literals), so each has a series, 0 or 1. */
const STATES: readonly string[] = literalsOf(PollerStateSchema.properties.state)

/**
 * The poller, read on each scrape from `state` (`null`: no poller, no series):
 * `b24_poller_state{mode, state}` 1 for its state and 0 for the others, and
 * `b24_poller_lag_seconds{mode}`, the time since its last successful `Event.get` (absent before the first).
 */
export function pollerMetrics(registry: Registry, state: () => PollerView | null): void {
  new Gauge({
    name: 'b24_poller_state',
    help: 'The poller state: 1 for the current one, 0 for the others',
    labelNames: ['mode', 'state'] as const,
    registers: [registry],
    collect() {
      this.reset()
      const poller = state()
      if (!poller) return
      for (const name of new Set([...STATES, poller.state])) this.set({ mode: poller.mode, state: name }, name === poller.state ? 1 : 0)
    },
  })
  new Gauge({
    name: 'b24_poller_lag_seconds',
    help: 'Seconds since the poller last read Bitrix24 successfully',
    labelNames: ['mode'] as const,
    registers: [registry],
    collect() {
      this.reset()
      const poller = state()
      if (poller?.lastPollAt) this.set({ mode: poller.mode }, Math.max(0, Date.now() - Date.parse(poller.lastPollAt)) / 1000)
    },
  })
}

/** The `const` values of a union of literals (TypeBox's `anyOf`), read without assuming more of its shape. */
export function literalsOf(schema: unknown): string[] {
  const members = (schema as { anyOf?: unknown }).anyOf
  if (!Array.isArray(members)) return []
  return members.map((member: { const?: unknown }) => member.const).filter((value): value is string => typeof value === 'string')
}
