import { FormParseError } from './form-parse-error.ts'
import { phpUrlDecode } from './php-url-decode.ts'
import { readFormKey, type FormPath } from './read-form-key.ts'

/** A decoded form: nested maps with string leaves, keys in wire order, no prototype. */
export interface FormMap {
  [key: string]: FormValue
}
export type FormValue = string | FormMap
export { FormParseError }

/** Bounds on what one body may make the parser do. */
export interface FormLimits {
  /** Most `key=value` pairs; default 50 000 (real events with large keyboards carry thousands; PHP's own default of 1000 would refuse them). */
  maxPairs: number
  /** Most bracket levels in one key; default 64, PHP's `max_input_nesting_level`. */
  maxDepth: number
  /** Longest decoded key; default 1024 characters. */
  maxKeyLength: number
}

export const DEFAULT_FORM_LIMITS: Readonly<FormLimits> = Object.freeze({ maxPairs: 50000, maxDepth: 64, maxKeyLength: 1024 })


/** An empty form map: no prototype, so no key is special. */
export const newMap = (): FormMap => Object.create(null) as FormMap
const isMap = (value: FormValue | undefined): value is FormMap => typeof value === 'object'

/**
 * Parses an `application/x-www-form-urlencoded` body the way PHP fills `$_POST`: bracket keys
 * nest (`a[b][0]=x`), `a[]` appends, a later pair overwrites an earlier one, a scalar that later
 * gets children becomes a map, base names turn ` ` and `.` into `_`. Maps have no prototype, so
 * `__proto__`, `constructor` or `prototype` are plain keys at any depth.
 * @throws {FormParseError} past a limit, where PHP would silently drop data.
 */
export function parseForm(body: string, limits: Partial<FormLimits> = {}): FormMap {
  const { maxPairs, maxDepth, maxKeyLength } = { ...DEFAULT_FORM_LIMITS, ...limits }
  const root = newMap()
  let pairs = 0
  let start = 0
  while (start <= body.length) {
    let end = body.indexOf('&', start)
    if (end === -1) end = body.length
    if (end > start) {
      if (++pairs > maxPairs) throw new FormParseError(`more than ${maxPairs} form fields`)
      // Searched within the pair: a body of `=`-less pairs must not cost a scan to the end each.
      const pair = body.slice(start, end)
      const eq = pair.indexOf('=')
      const path = readFormKey(eq === -1 ? pair : pair.slice(0, eq), maxDepth, maxKeyLength)
      if (path) place(root, path, eq === -1 ? '' : phpUrlDecode(pair.slice(eq + 1)))
    }
    start = end + 1
  }
  return root
}

/** Puts one pair's value at its path: a later pair overwrites an earlier one; a scalar in the way of a path becomes a map, as in PHP. */
export function place(root: FormMap, path: FormPath, value: string): void {
  let map = root
  const last = path.length - 1
  for (let i = 0; i < last; i++) {
    const name = path[i] ?? nextIndex(map)
    const child = map[name]
    if (isMap(child)) map = child
    else map = map[name] = newMap()
  }
  map[path[last] ?? nextIndex(map)] = value
}

const INTEGER_KEY = /^(?:0|-?[1-9][0-9]{0,17})$/

// `a[]` takes the next integer key after the largest one, as a PHP array does.
function nextIndex(map: FormMap): string {
  let next = 0
  for (const key in map) {
    if (INTEGER_KEY.test(key)) next = Math.max(next, Number(key) + 1)
  }
  return String(next)
}
