import Type, { type Static } from 'typebox'
import { Nullable } from './primitives.ts'

// What the Bitrix24 OAuth server (`https://oauth.bitrix.info`) answers, and what we make of it
// (../shared/APPS.md "OAuth server"; b24restdocs settings/oauth/index.md, auto-renewal.md).
// Only the fields we rely on are checked strictly. The others are read when they have a
// documented form and ignored otherwise: an odd `expires` must not cost an answer whose tokens
// are good (a refresh token is single-use, so a refused refresh answer loses the portal).

/** A field read when it has the form its description gives, ignored otherwise. */
const Lenient = (description: string) => Type.Optional(Type.Unknown({ description }))
const NonEmpty = () => Type.String({ minLength: 1 })

/** `install` of the OAuth server's `app.info`: the portal the access token was issued on. */
export const WireAppInstallSchema = Type.Object({
  installed: Lenient('true/false (or Y/N, 1/0): installFinish() was called'),
  version: Lenient('the version installed there: an integer or a string'),
  status: Lenient('F, D, T, P or L (free, demo, trial, paid, local)'),
  scope: Lenient('granted scopes, comma-separated'),
  domain: NonEmpty(),
  uri: Lenient("the portal's address"),
  /** Where the portal's REST API answers (`https://PORTAL/rest/`). */
  client_endpoint: NonEmpty(),
  member_id: NonEmpty(),
  member_type: Lenient('PORTAL'),
})

/**
 * The `result` of `GET {oauth}/rest/app.info?auth=ACCESS_TOKEN`. Not the portal's own `app.info`
 * (`ID`, `CODE`, `VERSION`, …, api-reference/common/system/app-info.md): the OAuth server says
 * which application (`client_id`) the token belongs to and on which portal (`install`).
 */
export const WireAppInfoSchema = Type.Object({
  client_id: NonEmpty(),
  scope: Lenient('granted scopes, comma-separated'),
  expires: Lenient("the access token's expiry, unix seconds: a number or a digit string"),
  user_id: Lenient('the user the token was issued to: a number or a digit string'),
  install: WireAppInstallSchema,
})
export type WireAppInfo = Static<typeof WireAppInfoSchema>

/**
 * The answer of `GET {oauth}/oauth/token/?grant_type=refresh_token&…`: a new access token (an
 * hour) and a new refresh token (the old one is dead). `domain` there is the OAuth server's
 * (`oauth.bitrix.info`), not the portal's.
 */
export const WireTokenAnswerSchema = Type.Object({
  access_token: NonEmpty(),
  refresh_token: NonEmpty(),
  expires_in: Lenient('seconds the access token lives (3600): a number or a digit string'),
  expires: Lenient("the access token's expiry, unix seconds: a number or a digit string"),
  scope: Lenient('granted scopes, comma-separated'),
  member_id: Lenient("the portal's member id"),
  client_endpoint: Lenient("the portal's REST address (`https://PORTAL/rest/`)"),
  server_endpoint: Lenient("the OAuth server's REST address"),
  domain: Lenient("the OAuth server's host"),
  status: Lenient('F, D, T, P or L'),
  user_id: Lenient('a number or a digit string'),
})
export type WireTokenAnswer = Static<typeof WireTokenAnswerSchema>

/** What the OAuth server's `app.info` says of an access token, as the code uses it. */
export const AppInfoSchema = Type.Object({
  /** The application the token was issued to. */
  clientId: Type.String(),
  scope: Nullable(Type.String()),
  install: Type.Object({
    memberId: Type.String(),
    domain: Type.String(),
    clientEndpoint: Type.String(),
    version: Nullable(Type.String()),
    installed: Nullable(Type.Boolean()),
  }),
})
export type AppInfo = Static<typeof AppInfoSchema>

/** A refreshed pair of tokens, as the code uses it. */
export const TokenGrantSchema = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  /** When the access token expires, epoch ms. */
  expiresAt: Type.Integer(),
  scope: Nullable(Type.String()),
  memberId: Nullable(Type.String()),
  clientEndpoint: Nullable(Type.String()),
})
export type TokenGrant = Static<typeof TokenGrantSchema>
