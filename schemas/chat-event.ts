import Type, { type Static, type TSchema } from 'typebox'
import { EventDataSchemas, type ChatEventType } from './event-data.ts'
import { FreeForm, Nullable } from './primitives.ts'

// The polling envelope `{eventId, type, date, data}` (im.v2.Event.get, imbot.v2.Event.get) is the
// canonical event; webhooks are decoded into it with `eventId: null`.

const EventId = Nullable(Type.Integer())
/** ISO 8601 instant: the polled `date`, or the webhook's `ts`. */
const EventDate = Type.String()

const envelope = <K extends ChatEventType, D extends TSchema>(type: K, data: D) =>
  Type.Object({ eventId: EventId, type: Type.Literal(type), date: EventDate, data })

const envelopes = <M extends typeof EventDataSchemas>(schemas: M) =>
  Object.fromEntries(Object.entries(schemas).map(([type, data]) => [type, envelope(type as ChatEventType, data)])) as {
    [K in keyof M & ChatEventType]: ReturnType<typeof envelope<K, M[K]>>
  }

/** One schema per chat event type: the event as a handler sees it. */
export const ChatEventSchemas = envelopes(EventDataSchemas)

/** Every typed chat event; TypeScript narrows `data` from `type`. */
export const ChatEventSchema = Type.Union(Object.values(ChatEventSchemas) as Array<(typeof ChatEventSchemas)[ChatEventType]>)
export type ChatEvent = Static<typeof ChatEventSchema>
export type ChatEventOf<K extends ChatEventType> = Static<(typeof ChatEventSchemas)[K]>

/** Any other Bitrix24 event (`ONCRMDEALADD`, `ONAPPINSTALL`, v1 bot events): `data` decoded generically. */
export const GenericEventSchema = Type.Object({ eventId: EventId, type: Type.String(), date: EventDate, data: FreeForm() })
export type GenericEvent = Static<typeof GenericEventSchema>
