import Type from 'typebox'
import { Compile } from 'typebox/compile'
import { PortalRowSchema, type PortalRow } from '../../schemas/portal.ts'
import type { Portals } from './store.ts'

/**
 * Each field of a portal and its column, as both stores lay the table out (see sqlite/migrations.ts
 * and postgres/migrations.ts), in the table's order. The only column names a statement is built from.
 */
export const PORTAL_COLUMNS = {
  memberId: 'member_id',
  domain: 'domain',
  clientEndpoint: 'client_endpoint',
  status: 'status',
  scope: 'scope',
  version: 'version',
  applicationToken: 'application_token',
  tokens: 'tokens',
  expiresAt: 'expires_at',
  installedAt: 'installed_at',
  updatedAt: 'updated_at',
} as const satisfies { [Field in keyof PortalRow]: string }

/** What names a portal in an error: never its member id (a value from the wire). */
export const A_PORTAL = "this event's portal"

/** A stored portal as its table lays it out. */
export type PortalColumns = { [Field in keyof PortalRow as (typeof PORTAL_COLUMNS)[Field]]: PortalRow[Field] }

/** What {@link Portals.update} is given. */
export type PortalPatch = Parameters<Portals['update']>[1]

const FIELDS = Object.keys(PORTAL_COLUMNS) as Array<keyof PortalRow>

/** Every field but the key: what an update may change. */
const CHANGEABLE = FIELDS.filter((field): field is keyof PortalPatch => field !== 'memberId')

export const toPortalColumns = (row: PortalRow): PortalColumns => Object.fromEntries(FIELDS.map((field) => [PORTAL_COLUMNS[field], row[field]])) as PortalColumns

export const toPortalRow = (columns: PortalColumns): PortalRow => Object.fromEntries(FIELDS.map((field) => [field, columns[PORTAL_COLUMNS[field]]])) as PortalRow

/**
 * The fields a patch changes, in the table's order: those of a portal that it gives a value
 * (`null` included; `undefined` is not a value), never its `memberId`, nothing else it holds.
 */
export const patchedFields = (patch: PortalPatch): Array<keyof PortalPatch> => CHANGEABLE.filter((field) => patch[field] !== undefined)

const rowChecker = Compile(PortalRowSchema)
const patchChecker = Compile(Type.Partial(Type.Omit(PortalRowSchema, ['memberId'])))

/**
 * Refuses a row off its schema before it reaches a statement: in the SQLite store a statement
 * the table refuses would fail its whole group commit, the events appended in that turn too.
 * @throws {TypeError} naming no value (a row holds sealed tokens).
 */
export function assertPortalRow(row: PortalRow): void {
  if (!rowChecker.Check(row)) throw new TypeError('not a portal row: refused, nothing stored')
}

/**
 * Refuses a patch whose fields are off the schema, as {@link assertPortalRow} a row.
 * @throws {TypeError} naming no value.
 */
export function assertPortalPatch(patch: PortalPatch): void {
  if (!patchChecker.Check(patch)) throw new TypeError('not a portal patch: refused, nothing changed')
}
