import Type from 'typebox'

/** Every 4xx/5xx reply: a stable code, a short message, and for a 422 the failing paths. */
export const ErrorReplySchema = Type.Object({
  error: Type.String(),
  message: Type.String(),
  issues: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
})
