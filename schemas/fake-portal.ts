import Type, { type Static } from 'typebox'
import { CHAT_EVENT_TYPES } from './event-data.ts'

// The control side of `b24-receiver fake-portal`, a development tool: what `simulate
// --fake-portal` asks it for. Not Bitrix24's wire: a real portal has no such endpoint.

/** The application's own events (api-reference/common/events/on-app-install.md, on-app-update.md, on-app-uninstall.md). */
export const APP_EVENT_TYPES = ['ONAPPINSTALL', 'ONAPPUPDATE', 'ONAPPUNINSTALL'] as const
export type AppEventType = (typeof APP_EVENT_TYPES)[number]

/** Whether `type` is one of the application's own events. */
export const isAppEventType = (type: string): type is AppEventType => (APP_EVENT_TYPES as readonly string[]).includes(type)

/**
 * What a portal posts to a handler and so what the fake hands out: the application's events and
 * the bot's. Not `ONIMV2*`: Bitrix24 gives a user's events by polling only (`im.v2.Event.get`;
 * chat-bots-v2/im.v2/events/index.md).
 */
export const FAKE_PORTAL_EVENT_TYPES = [...APP_EVENT_TYPES, ...CHAT_EVENT_TYPES.filter((type) => type.startsWith('ONIMBOTV2'))]
export type FakePortalEventType = (typeof FAKE_PORTAL_EVENT_TYPES)[number]

/** Whether a fake portal posts events of `type`. */
export const isFakePortalEventType = (type: string): type is FakePortalEventType => (FAKE_PORTAL_EVENT_TYPES as string[]).includes(type)

/**
 * One event of one of the fake's portals, asked for by `simulate --fake-portal`. A lifecycle type
 * also does what it says on the fake (installs, updates, uninstalls); a chat event needs the
 * application installed there. `portal` is the portal's domain (`example.bitrix24.com` if unset).
 */
export const FakeEventRequestSchema = Type.Object(
  {
    type: Type.Enum(FAKE_PORTAL_EVENT_TYPES),
    portal: Type.Optional(Type.String({ minLength: 1, maxLength: 253 })),
    text: Type.Optional(Type.String()),
    chatId: Type.Optional(Type.Integer({ minimum: 1 })),
    userId: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
)
export type FakeEventRequest = Static<typeof FakeEventRequestSchema>

/** The fake's answer: the payload its portal posts for that event (`event`, `data`, `ts`, `auth`), to be encoded as Bitrix24 does. */
export const FakeEventAnswerSchema = Type.Object({ payload: Type.Record(Type.String(), Type.Unknown()) })
export type FakeEventAnswer = Static<typeof FakeEventAnswerSchema>
