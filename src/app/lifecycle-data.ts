import type { Arrival } from '../door/arrival.ts'
import { readPayload } from '../event/read-payload.ts'

/** The `data` of a lifecycle event's wire (`ONAPPINSTALL`, `ONAPPUPDATE`, `ONAPPUNINSTALL`: small, read whole). */
export function lifecycleData(wire: Pick<Arrival, 'bodyKind' | 'body'>): Record<string, unknown> {
  const { data } = readPayload(wire.body, wire.bodyKind === 'form' ? 'form' : 'json')
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {}
}

/** The application's version a lifecycle event names (`data[VERSION]`), as text. */
export function appVersion(wire: Pick<Arrival, 'bodyKind' | 'body'>): string | null {
  const version = lifecycleData(wire).VERSION
  return typeof version === 'string' || typeof version === 'number' ? String(version) : null
}
