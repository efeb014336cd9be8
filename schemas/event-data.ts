import Type from 'typebox'
import { BotSchema } from './bot.ts'
import { ChatSchema } from './chat.ts'
import { CommandCallSchema } from './command.ts'
import { MessageSchema } from './message.ts'
import { UserSchema } from './user.ts'
import { FreeForm } from './primitives.ts'

// The `data` of each chat event, ../shared/WIRE.md §4 (docs: chat-bots-v2 events).

const Language = Type.String()
const Reaction = { reaction: Type.String(), action: Type.Union([Type.Literal('add'), Type.Literal('delete')]) }
const Scene = { chat: ChatSchema, user: UserSchema, language: Language }

const MessageEventData = Type.Object({ message: MessageSchema, ...Scene })
const DeleteEventData = Type.Object({ messageId: Type.Integer(), ...Scene })
const ReactionEventData = Type.Object({ ...Reaction, message: MessageSchema, ...Scene })
const JoinEventData = Type.Object({ dialogId: Type.String(), ...Scene })

const withBot = { bot: BotSchema }

/** `data` schema for every chat event type the contract knows. */
export const EventDataSchemas = {
  ONIMV2MESSAGEADD: MessageEventData,
  ONIMV2MESSAGEUPDATE: MessageEventData,
  ONIMV2MESSAGEDELETE: DeleteEventData,
  ONIMV2REACTIONCHANGE: ReactionEventData,
  ONIMV2JOINCHAT: JoinEventData,
  ONIMBOTV2MESSAGEADD: Type.Object({ ...withBot, message: MessageSchema, ...Scene }),
  ONIMBOTV2MESSAGEUPDATE: Type.Object({ ...withBot, message: MessageSchema, ...Scene }),
  ONIMBOTV2MESSAGEDELETE: Type.Object({ ...withBot, messageId: Type.Integer(), ...Scene }),
  ONIMBOTV2JOINCHAT: Type.Object({ ...withBot, dialogId: Type.String(), ...Scene }),
  ONIMBOTV2COMMANDADD: Type.Object({ ...withBot, command: CommandCallSchema, message: MessageSchema, ...Scene }),
  ONIMBOTV2REACTIONCHANGE: Type.Object({ ...withBot, ...Reaction, message: MessageSchema, ...Scene }),
  ONIMBOTV2CONTEXTGET: Type.Object({ ...withBot, dialogId: Type.String(), context: FreeForm(), ...Scene }),
  ONIMBOTV2DELETE: Type.Object({ ...withBot }),
} as const

export type ChatEventType = keyof typeof EventDataSchemas

/** The 13 chat event types, in the order of the contract. */
export const CHAT_EVENT_TYPES = Object.keys(EventDataSchemas) as ChatEventType[]

/** Whether `type` is one of the chat events the contract types. */
export const isChatEventType = (type: string): type is ChatEventType => Object.hasOwn(EventDataSchemas, type)
