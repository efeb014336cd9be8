/**
 * Where a store keeps sealed values, each a column of a table: the credentials of inbox records
 * (pending, retrying, dead), of the events held under pending installs, the tokens of pending
 * installs and of the application's portals.
 */
// Pending installs first: one confirmed meanwhile moves its events' credentials to the inbox as
// they are, and those are then sealed again by the inbox's pass, which comes after.
export const SEALED_COLUMNS = ['pendingInstalls', 'pendingEvents', 'portals', 'inbox'] as const
export type SealedColumn = (typeof SEALED_COLUMNS)[number]

/** One sealed value and the key of its row (an id, or a portal's member id). */
export interface SealedValue {
  key: number | string
  value: string
}

/** A value to write in place of another: only if the row still holds `from`. */
export interface Replacement extends SealedValue {
  from: string
}

/** A store's sealed values, row by row, for `keys rotate` (see sqlite/sqlite-sealed-values.ts and postgres/postgres-sealed-values.ts; sealed again by ../seal/rotate-keys.ts). */
export interface SealedValues {
  /**
   * Up to `limit` values of `column` (rows that hold one, of a format this version knows), those of
   * rows after `after` (`null`: from the first) in the order of their keys.
   */
  page(column: SealedColumn, after: number | string | null, limit: number): Promise<SealedValue[]>
  /**
   * Writes each replacement whole or none of them (one transaction): each only where its row still
   * holds `from` (a row deleted or changed meanwhile, or written by a newer version, is left as it
   * is). How many were written.
   */
  replace(column: SealedColumn, replacements: Replacement[]): Promise<number>
}
