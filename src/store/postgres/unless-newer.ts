import { refuseNewer } from '../newer-format-error.ts'

/** What a statement made by {@link unlessNewer} answers. */
export interface Guarded {
  /** The format of the row it was aimed at, as it was before (`null`: there was none). */
  format: number | null
  /** Rows it changed. */
  changed: number
}

/**
 * One statement: `change` (which must itself leave rows of a newer format alone, and be aimed by
 * `where` at one row), and the format of that row before it, so that one round trip both changes
 * what this version may change and tells a row a newer version wrote (see {@link changedUnlessNewer}).
 */
export const unlessNewer = (table: string, where: string, change: string): string =>
  `WITH before AS (SELECT format FROM ${table} WHERE ${where}), changed AS (${change} RETURNING 1)
   SELECT (SELECT format FROM before) AS format, (SELECT count(*) FROM changed)::int AS changed`

/**
 * How many rows a statement made by {@link unlessNewer} changed.
 * @throws {NewerFormatError} when it was aimed at a row a newer version wrote (left as it was).
 */
export function changedUnlessNewer(rows: Guarded[], what: string): number {
  const [{ format, changed }] = rows as [Guarded]
  if (format !== null) refuseNewer(what, format)
  return changed
}
