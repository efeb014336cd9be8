import type { EventValidationError } from '../errors.ts'
import type { Credentials } from '../event/credentials.ts'
import type { Delivery, InboundEvent, Portal } from '../event/inbound-event.ts'
import type { InboxStats } from '../inbox/inbox.ts'

/** An authenticated event that failed its schema: kept, never dropped. */
export interface RejectedEvent {
  /** The payload as received, every credential (and so the whole `auth` block) removed. */
  payload: Record<string, unknown>
  portal: Portal
  /** The credentials it came with, kept apart as for any event. */
  credentials: Credentials
  error: EventValidationError
  /** Which door it came through: a replay decodes it again the same way. */
  source: Delivery['source']
}

/** Counters for `/health`. */
export interface PipelineStats {
  /** Events stored since start (duplicates not counted). */
  accepted: number
  /** Double deliveries recognised and stored once. */
  duplicates: number
  /** Events that failed their schema (kept in the dead letter). */
  rejected: number
  /** Handler attempts that failed. */
  failed: number
  inFlight: number
  /** ISO time of the last accepted event, or `null`. */
  lastEventAt: string | null
  /** The inbox's own figures, or `null` while it is unavailable. */
  inbox: InboxStats | null
}

/** What the doors hand events to: it owns them from then on. */
export interface Pipeline {
  /** Takes an event; resolves once it is stored (the door may then acknowledge it). */
  accept(inbound: InboundEvent): Promise<void>
  /** Keeps an authenticated event that failed validation (the dead letter). */
  reject(rejected: RejectedEvent): Promise<void>
  /** Why events cannot be accepted now, or `null` when they can. */
  unavailable(): string | null
  /** Stops taking work and finishes what is in flight, up to `timeoutMs`; `true` when all finished. */
  drain(timeoutMs: number): Promise<boolean>
  stats(): PipelineStats
}
