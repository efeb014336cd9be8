import type { EventValidationError } from '../errors.ts'
import type { InboundEvent, Portal } from '../event/inbound-event.ts'

/** An authenticated event that failed its schema: kept, never dropped. */
export interface RejectedEvent {
  /** The payload as received, every credential (and so the whole `auth` block) removed. */
  payload: Record<string, unknown>
  portal: Portal
  error: EventValidationError
}

/** Counters for `/health`. */
export interface PipelineStats {
  accepted: number
  rejected: number
  failed: number
  inFlight: number
  /** ISO time of the last accepted event, or `null`. */
  lastEventAt: string | null
}

/** What the doors hand events to: it owns them from then on. */
export interface Pipeline {
  /** Takes an event; resolves once it is safe (the door may then acknowledge it). */
  accept(inbound: InboundEvent): Promise<void>
  /** Keeps an authenticated event that failed validation (the dead letter). */
  reject(rejected: RejectedEvent): Promise<void>
  /** Finishes work in flight, up to `timeoutMs`; `true` when all of it finished. */
  drain(timeoutMs: number): Promise<boolean>
  stats(): PipelineStats
}
