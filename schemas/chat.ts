import Type, { type Static } from 'typebox'
import { FreeForm, Nullable, YesNo } from './primitives.ts'

/** A chat as events carry it (no `role`, no `muteList`), "Chatbot Objects and Fields 2.0": Chat. */
export const ChatSchema = Type.Object({
  id: Type.Integer(),
  dialogId: Type.String(),
  type: Type.String(),
  name: Type.String(),
  owner: Type.Integer(),
  avatar: Type.String(),
  color: Nullable(Type.String()),
  entityType: Type.String(),
  messageType: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  extranet: Type.Optional(Type.Boolean()),
  containsCollaber: Type.Optional(Type.Boolean()),
  entityId: Type.Optional(Type.String()),
  entityData1: Type.Optional(Type.String()),
  entityData2: Type.Optional(Type.String()),
  entityData3: Type.Optional(Type.String()),
  entityLink: Type.Optional(FreeForm()),
  diskFolderId: Type.Optional(Nullable(Type.Integer())),
  permissions: Type.Optional(FreeForm()),
  parentChatId: Type.Optional(Nullable(Type.Integer())),
  parentMessageId: Type.Optional(Nullable(Type.Integer())),
  isNew: Type.Optional(Type.Boolean()),
  textFieldEnabled: Type.Optional(YesNo()),
  backgroundId: Type.Optional(Nullable(Type.String())),
})
export type Chat = Static<typeof ChatSchema>
