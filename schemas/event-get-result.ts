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

/** The `result` of `im.v2.Event.get` / `imbot.v2.Event.get`. */
export const EventGetResultSchema = Type.Object({
  events: Type.Array(PolledEventSchema),
  nextOffset: Type.Integer(),
  hasMore: Type.Boolean(),
})
export type EventGetResult = Static<typeof EventGetResultSchema>
