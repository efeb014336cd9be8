import type { ChatEvent, GenericEvent } from '../../schemas/chat-event.ts'
import type { Portal } from '../../schemas/portal.ts'
import type { Credentials } from './credentials.ts'

export type { Portal }

/** How an event arrived: everything about it that is not the event itself. */
export interface Delivery {
  source: 'webhook' | 'poll'
  portal: Portal
  /** `event_handler_id` of a webhook; `null` for a polled event. */
  handlerId: number | null
  /** Never printed: see {@link Credentials}. */
  credentials: Credentials
}

/** The event handlers get, in the polling format (`im.v2.Event.get`): typed for the 13 chat events, generic for any other. */
export type NormalizedEvent = ChatEvent | GenericEvent

/**
 * A stored wire decoded (by the worker's decode step, or `b24-receiver decode`): the event
 * handlers get and how it arrived. The stage after the store's `StoredRecord`.
 */
export interface DecodedEvent {
  event: NormalizedEvent
  delivery: Delivery
}
