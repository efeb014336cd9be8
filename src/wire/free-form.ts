import { isSecretKey } from './is-secret-key.ts'
import { phpScalar } from './php-scalar.ts'
import { setKey } from './set-key.ts'

/** A value without a schema, as the wire shows it: string leaves, lists and maps. */
export type FreeValue = string | FreeValue[] | FreeObject
export interface FreeObject {
  [key: string]: FreeValue
}

/**
 * Decodes a value that has no schema to what the PHP wire makes of it, whichever door it came
 * through: scalars become strings, `null` and empty containers vanish, a map whose keys are
 * exactly `0..n-1` becomes a list (as PHP's `json_encode` shows it), credentials are removed.
 * `undefined` when nothing is left.
 */
export function freeForm(value: unknown): FreeValue | undefined {
  if (typeof value !== 'object' || value === null) return phpScalar(value)
  const entries = freeEntries(value)
  if (entries.length === 0) return undefined
  return entries.every(([key], index) => key === String(index)) ? entries.map(([, item]) => item) : toObject(entries)
}

/** {@link freeForm} for a field that is an object by contract: never a list, `{}` when empty. */
export function freeFormObject(value: object): FreeObject {
  return toObject(freeEntries(value))
}

function freeEntries(value: object): Array<[string, FreeValue]> {
  const entries: Array<[string, FreeValue]> = []
  for (const key of Object.keys(value)) {
    if (isSecretKey(key)) continue
    const item = freeForm((value as Record<string, unknown>)[key])
    if (item !== undefined) entries.push([key, item])
  }
  return entries
}

function toObject(entries: Array<[string, FreeValue]>): FreeObject {
  const object: FreeObject = {}
  for (const [key, item] of entries) setKey(object, key, item)
  return object
}
