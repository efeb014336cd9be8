import Type, { type Static } from 'typebox'

/** A bot command as a user called it (`ONIMBOTV2COMMANDADD`). */
export const CommandCallSchema = Type.Object({
  id: Type.Integer(),
  command: Type.String(),
  params: Type.String(),
  context: Type.String(),
})
export type CommandCall = Static<typeof CommandCallSchema>
