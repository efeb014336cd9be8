import Type, { type Static } from 'typebox'
import { Nullable } from './primitives.ts'

/** The bot an event is for. In webhook mode only `{id, code}` arrive (their `auth` is taken out). */
export const BotSchema = Type.Object({
  id: Type.Integer(),
  code: Type.String(),
  type: Type.Optional(Type.String()),
  isHidden: Type.Optional(Type.Boolean()),
  isSupportOpenline: Type.Optional(Type.Boolean()),
  isReactionsEnabled: Type.Optional(Type.Boolean()),
  backgroundId: Type.Optional(Nullable(Type.String())),
  language: Type.Optional(Type.String()),
  moduleId: Type.Optional(Type.String()),
  eventMode: Type.Optional(Type.String()),
  countMessage: Type.Optional(Type.Integer()),
  countCommand: Type.Optional(Type.Integer()),
  countChat: Type.Optional(Type.Integer()),
  countUser: Type.Optional(Type.Integer()),
})
export type Bot = Static<typeof BotSchema>
