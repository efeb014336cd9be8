import { MalformedBodyError } from '../errors.ts'
import { phpUrlDecode } from './php-url-decode.ts'

/** A decoded form: nested maps with string leaves, keys in wire order, no prototype. */
export interface FormMap {
  [key: string]: FormValue
}
export type FormValue = string | FormMap

/** Bounds on what one body may make the parser do. */
export interface FormLimits {
  /** Most `key=value` pairs; default 1000, PHP's `max_input_vars`. */
  maxPairs: number
  /** Most bracket levels in one key; default 64, PHP's `max_input_nesting_level`. */
  maxDepth: number
  /** Longest decoded key; default 1024 characters. */
  maxKeyLength: number
}

export const DEFAULT_FORM_LIMITS: Readonly<FormLimits> = Object.freeze({ maxPairs: 1000, maxDepth: 64, maxKeyLength: 1024 })

/** The error {@link parseForm} throws: the body is not what a PHP receiver would accept. */
export class FormParseError extends MalformedBodyError {}

const newMap = (): FormMap => Object.create(null) as FormMap
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
      const eq = body.indexOf('=', start)
      const hasValue = eq !== -1 && eq < end
      const key = phpUrlDecode(body.slice(start, hasValue ? eq : end))
      if (key.length > maxKeyLength) throw new FormParseError(`a form key is longer than ${maxKeyLength} characters`)
      assign(root, key, hasValue ? phpUrlDecode(body.slice(eq + 1, end)) : '', maxDepth)
    }
    start = end + 1
  }
  return root
}

// Mirrors php_register_variable_ex (main/php_variables.c).
function assign(root: FormMap, rawKey: string, value: string, maxDepth: number): void {
  const nul = rawKey.indexOf('\0') // PHP reads the name as a C string: it ends at a NUL byte
  const key = (nul === -1 ? rawKey : rawKey.slice(0, nul)).replace(/^ +/, '')
  const open = key.indexOf('[')
  const baseEnd = open === -1 ? key.length : open
  if (baseEnd === 0) return // PHP ignores a pair without a name
  const base = key.slice(0, baseEnd).replace(/[ .]/g, '_')
  if (open === -1) return void (root[base] = value)

  const path: Array<string | null> = [base]
  let cursor = open
  while (key[cursor] === '[') {
    const close = key.indexOf(']', cursor + 1)
    if (close === -1) {
      // An unclosed first bracket makes the whole name plain; a later one is ignored.
      if (path.length === 1) return void (root[base + '_' + key.slice(open + 1).replace(/[ .[]/g, '_')] = value)
      break
    }
    if (path.length > maxDepth) throw new FormParseError(`a form key nests deeper than ${maxDepth} levels`)
    const index = key.slice(cursor + 1, close)
    path.push(index === '' || BLANK_INDEX.has(index) ? null : index)
    cursor = close + 1
  }

  let map = root
  const last = path.length - 1
  for (let i = 0; i < last; i++) {
    const step = path[i] as string | null
    const name = step ?? nextIndex(map)
    const child = map[name]
    if (isMap(child)) map = child
    else map = map[name] = newMap()
  }
  map[path[last] ?? nextIndex(map)] = value
}

// PHP skips one blank character after `[` before it looks for `]`: `a[ ]` appends like `a[]`.
const BLANK_INDEX = new Set([' ', '\t', '\n', '\v', '\f', '\r'])

const INTEGER_KEY = /^(?:0|-?[1-9][0-9]{0,17})$/

// `a[]` takes the next integer key after the largest one, as a PHP array does.
function nextIndex(map: FormMap): string {
  let next = 0
  for (const key in map) {
    if (INTEGER_KEY.test(key)) next = Math.max(next, Number(key) + 1)
  }
  return String(next)
}
