import Type, { type Static } from 'typebox'
import { Nullable } from './primitives.ts'

/** The portal an event came from, read from its `auth` block (`domain`, `member_id`, `client_endpoint`). */
export const PortalSchema = Type.Object({
  domain: Nullable(Type.String()),
  memberId: Nullable(Type.String()),
  clientEndpoint: Nullable(Type.String()),
})
export type Portal = Static<typeof PortalSchema>

/**
 * Where a portal of the application stands: `active`; `reinstall`, its refresh token was refused
 * (`invalid_grant`): the application must be installed there again; `uninstalled`, its tokens
 * deleted by `ONAPPUNINSTALL`. An install the OAuth server has not confirmed yet is no portal: it
 * waits as a candidate ({@link CandidateRowSchema}).
 */
export const PortalStatusSchema = Type.Union([Type.Literal('active'), Type.Literal('reinstall'), Type.Literal('uninstalled')])
export type PortalStatus = Static<typeof PortalStatusSchema>

/**
 * A portal of the application as the store keeps it (application mode): every token sealed, the
 * application token only as a keyed hash. Times are epoch ms.
 */
export const PortalRowSchema = Type.Object({
  memberId: Type.String(),
  domain: Type.String(),
  /** `install.client_endpoint` as `app.info` confirmed it (`https://PORTAL/rest/`). */
  clientEndpoint: Type.String(),
  status: PortalStatusSchema,
  scope: Nullable(Type.String()),
  /** The application's version installed there (`data[VERSION]`). */
  version: Nullable(Type.String()),
  /** A keyed hash of its `application_token` (the sealer's `digest`), or `null` once uninstalled. */
  applicationToken: Nullable(Type.String()),
  /** The access and refresh tokens, sealed, or `null` once uninstalled. */
  tokens: Nullable(Type.String()),
  /** When the access token expires. */
  expiresAt: Nullable(Type.Integer()),
  installedAt: Type.Integer(),
  updatedAt: Type.Integer(),
})
export type PortalRow = Static<typeof PortalRowSchema>

// What may be shown of a row: everything but its tokens, times in ISO 8601.
const { applicationToken: _hash, tokens: _sealed, expiresAt: _expiresAt, installedAt: _installedAt, updatedAt: _updatedAt, ...shown } = PortalRowSchema.properties

/** What `portals list|show` print and a handler's `ctx.portal` adds for a stored portal: never a token. Times are ISO 8601. */
export const InstalledPortalSchema = Type.Object({
  ...shown,
  expiresAt: Nullable(Type.String()),
  installedAt: Type.String(),
  updatedAt: Type.String(),
})
export type InstalledPortal = Static<typeof InstalledPortalSchema>

/** A line of `portals list`: a stored portal, or an install the OAuth server has not confirmed yet (`pending`, as it names itself). */
export const ListedPortalSchema = Type.Object({
  memberId: InstalledPortalSchema.properties.memberId,
  domain: InstalledPortalSchema.properties.domain,
  status: Type.Union([...PortalStatusSchema.anyOf, Type.Literal('pending')]),
  version: InstalledPortalSchema.properties.version,
  expiresAt: InstalledPortalSchema.properties.expiresAt,
})
export type ListedPortal = Static<typeof ListedPortalSchema>

const { memberId, domain, clientEndpoint, scope, version, expiresAt } = PortalRowSchema.properties

/**
 * An install the OAuth server has not confirmed yet (application mode): one of the few candidates
 * a portal may have at once, each with its own application token and its own events, until the
 * OAuth server settles it: confirmed, it becomes the portal; refused, it goes with its events.
 * Nothing in it is trusted: it is what the `ONAPPINSTALL` said. Times are epoch ms.
 */
export const CandidateRowSchema = Type.Object({
  /** Given by the store when it is added. */
  id: Type.Integer(),
  memberId,
  /** The portal's domain, as the install names it. */
  domain,
  /** `auth[client_endpoint]` as the install names it (replaced by the OAuth server's once confirmed). */
  clientEndpoint,
  scope,
  version,
  /** A keyed hash of its `application_token` (the sealer's `digest`). */
  applicationToken: Type.String(),
  /** Its access and refresh tokens, sealed: the access token is what the OAuth server is asked about. */
  tokens: Type.String(),
  expiresAt,
  /** When its `ONAPPINSTALL` arrived. */
  receivedAt: Type.Integer(),
})
export type CandidateRow = Static<typeof CandidateRowSchema>

/** A candidate as the door hands it to the store, before it has an id. */
export const NewCandidateSchema = Type.Omit(CandidateRowSchema, ['id'])
export type NewCandidate = Static<typeof NewCandidateSchema>
