/**
 * The format of what this version stores: every inbox record (pending, retrying, dead), pending
 * install and its events, portal row, named value and lease carries the format it was written in.
 * This version writes this one and reads it and older ones; a row of a higher format was written
 * by a newer version, whose meaning this one cannot know, so it leaves the row alone (never
 * claims, decodes, dead-letters, overwrites or deletes it) and counts it in `/health`. Replicas
 * of two versions can then share one store through a rolling upgrade that changes what is stored.
 *
 * Dedup keys carry none: a key is only compared whole, and a version that makes keys differently
 * makes different strings, which at worst hands a double delivery over once more (handlers run
 * at least once anyway).
 */
export const STORED_FORMAT = 1

/** A row as a table holds it: its fields, and the format it was written in. */
export type Formatted<Row> = Row & { format: number }

/** Whether a row of `format` was written by a newer version than this one. */
export const isNewer = (format: number): boolean => format > STORED_FORMAT
