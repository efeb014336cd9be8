import Type, { type Static } from 'typebox'
import { FreeForm } from './primitives.ts'

/** One event as `im.v2.Event.get` / `imbot.v2.Event.get` return it, before its `data` is checked. */
export const PolledEventSchema = Type.Object({
  eventId: Type.Integer(),
  type: Type.String(),
  date: Type.String(),
  data: FreeForm(),
})
export type PolledEvent = Static<typeof PolledEventSchema>

/**
 * The `result` of `im.v2.Event.get` / `imbot.v2.Event.get`. Each event is checked on its own
 * ({@link PolledEventSchema}), so that one malformed event goes to the dead letter instead of
 * stalling the queue.
 */
export const EventGetResultSchema = Type.Object({
  events: Type.Array(Type.Unknown()),
  nextOffset: Type.Integer(),
  hasMore: Type.Boolean(),
})
export type EventGetResult = Static<typeof EventGetResultSchema>
