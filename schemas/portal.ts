import Type, { type Static } from 'typebox'
import { Nullable } from './primitives.ts'

/** The portal an event came from, read from its `auth` block (`domain`, `member_id`, `client_endpoint`). */
export const PortalSchema = Type.Object({
  domain: Nullable(Type.String()),
  memberId: Nullable(Type.String()),
  clientEndpoint: Nullable(Type.String()),
})
export type Portal = Static<typeof PortalSchema>
