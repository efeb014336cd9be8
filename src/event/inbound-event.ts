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

/** An event in the polling format: typed for the 13 chat events, generic for any other. */
export type NormalizedEvent = ChatEvent | GenericEvent

/** What both doors produce: the event a handler sees and how it arrived. */
export interface InboundEvent {
  event: NormalizedEvent
  delivery: Delivery
}
