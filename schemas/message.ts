import Type, { type Static } from 'typebox'
import { FreeForm, Nullable } from './primitives.ts'

/** The original of a forwarded message. */
export const ForwardSchema = Type.Object({
  id: Type.Integer(),
  userId: Type.Integer(),
  chatId: Type.Integer(),
  date: Nullable(Type.String()),
})
export type Forward = Static<typeof ForwardSchema>

/** A chat message, "Chatbot Objects and Fields 2.0": Message. `params` holds files, keyboard, attach. */
export const MessageSchema = Type.Object({
  id: Type.Integer(),
  chatId: Type.Integer(),
  authorId: Type.Integer(),
  date: Nullable(Type.String()),
  text: Type.String(),
  isSystem: Type.Boolean(),
  uuid: Type.Optional(Type.String()),
  forward: Nullable(ForwardSchema),
  params: FreeForm(),
  viewedByOthers: Type.Boolean(),
})
export type Message = Static<typeof MessageSchema>
