import Type, { type Static } from 'typebox'

/** One reason an event failed its schema: a JSON pointer into the event and what was expected (never the value). */
export const ValidationIssueSchema = Type.Object({ path: Type.String(), message: Type.String() })
export type ValidationIssue = Static<typeof ValidationIssueSchema>

/** Every 4xx/5xx reply: a stable code and a short message (never a value from the input). */
export const ErrorReplySchema = Type.Object({ error: Type.String(), message: Type.String() })
export type ErrorReply = Static<typeof ErrorReplySchema>

/** The reply to an event that is stored (or was stored before: a double delivery). */
export const AcceptedReplySchema = Type.Object({ ok: Type.Literal(true) })
export type AcceptedReply = Static<typeof AcceptedReplySchema>
