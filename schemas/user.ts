import Type, { type Static } from 'typebox'
import { FreeForm, OrFalse } from './primitives.ts'

/** A chat participant, "Chatbot Objects and Fields 2.0": User. */
export const UserSchema = Type.Object({
  id: Type.Integer(),
  active: Type.Boolean(),
  name: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  workPosition: Type.Optional(Type.String()),
  color: Type.String(),
  avatar: Type.String(),
  gender: Type.String(),
  birthday: Type.String(),
  extranet: Type.Boolean(),
  bot: Type.Boolean(),
  connector: Type.Boolean(),
  externalAuthId: Type.String(),
  status: Type.String(),
  idle: OrFalse(Type.String()),
  lastActivityDate: OrFalse(Type.String()),
  mobileLastDate: OrFalse(Type.String()),
  desktopLastDate: OrFalse(Type.String()),
  absent: OrFalse(Type.String()),
  departments: Type.Array(Type.Integer()),
  phones: OrFalse(FreeForm()),
  type: Type.String(),
  website: Type.Optional(Type.String()),
  email: Type.Optional(Type.String()),
})
export type User = Static<typeof UserSchema>
