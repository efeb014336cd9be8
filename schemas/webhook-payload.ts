import Type, { type Static } from 'typebox'
import { FreeForm } from './primitives.ts'

/** Portal facts and OAuth tokens Bitrix24 adds to every webhook (`auth[…]`). */
export const WebhookAuthSchema = Type.Object({
  application_token: Type.Optional(Type.String()),
  access_token: Type.Optional(Type.String()),
  refresh_token: Type.Optional(Type.String()),
  domain: Type.Optional(Type.String()),
  member_id: Type.Optional(Type.String()),
  client_endpoint: Type.Optional(Type.String()),
  server_endpoint: Type.Optional(Type.String()),
})
export type WebhookAuth = Static<typeof WebhookAuthSchema>

/** A webhook body as Bitrix24 posts it, keys in wire order: `event`, `event_handler_id`, `data`, `ts`, `auth`. */
export const WebhookPayloadSchema = Type.Object({
  event: Type.String({ minLength: 1 }),
  event_handler_id: Type.Optional(Type.Integer()),
  data: FreeForm(),
  /** Unix seconds, up to the year 9999. */
  ts: Type.Integer({ minimum: 0, maximum: 253402300799 }),
  auth: Type.Optional(WebhookAuthSchema),
})
export type WebhookPayload = Static<typeof WebhookPayloadSchema>
