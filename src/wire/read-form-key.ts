import { FormParseError } from './form-parse-error.ts'
import { phpUrlDecode } from './php-url-decode.ts'

/** Where a form value goes: the base name, then one entry per bracket, `null` for `[]` (append). */
export type FormPath = [string, ...Array<string | null>]


const PERCENT = 0x25
const PLUS = 0x2b
const DOT = 0x2e
const OPEN = 0x5b as const
const CLOSE = 0x5d as const

// PHP skips one blank character after `[` before it looks for `]`: `a[ ]` appends like `a[]`.
const BLANK_INDEX = new Set([' ', '\t', '\n', '\v', '\f', '\r'])

/**
 * Reads a raw (still percent-encoded) form key into its path, as php_register_variable_ex
 * (main/php_variables.c) does; `undefined` for a key PHP ignores (no name).
 * @throws {FormParseError} past `maxDepth` brackets or `maxKeyLength` decoded characters.
 */
export function readFormKey(raw: string, maxDepth: number, maxKeyLength: number): FormPath | undefined {
  let read = cache.get(raw)
  if (!read) {
    read = readUncached(raw, maxDepth)
    // A full cache takes nothing more: the keys that recur are seen early, and a body of
    // thousands of one-off keys (a large keyboard, a hostile form) must not churn it.
    if (raw.length <= CACHED_KEY_LENGTH && cache.size < CACHE_SIZE) cache.set(raw, read)
  }
  if (read.length > maxKeyLength) throw new FormParseError(`a form key is longer than ${maxKeyLength} characters`)
  if (read.path && read.path.length > maxDepth + 1) throw new FormParseError(`a form key nests deeper than ${maxDepth} levels`)
  return read.path
}

interface ReadKey {
  path: FormPath | undefined
  /** Length of the decoded key, which the limit applies to. */
  length: number
}

// Bitrix24 sends the same hundred keys with every event of a kind: their paths are worth
// keeping, and reusing the same segment strings makes the map look-ups cheaper too.
const CACHE_SIZE = 4096
const CACHED_KEY_LENGTH = 256
const cache = new Map<string, ReadKey>()

function readUncached(raw: string, maxDepth: number): ReadKey {
  const fast = readPlainKey(raw, maxDepth)
  if (fast) return fast
  const key = phpUrlDecode(raw)
  return { path: readDecodedKey(key, maxDepth), length: key.length }
}

// The general case, on the decoded key.
function readDecodedKey(decoded: string, maxDepth: number): FormPath | undefined {
  const nul = decoded.indexOf('\0') // PHP reads the name as a C string: it ends at a NUL byte
  const key = (nul === -1 ? decoded : decoded.slice(0, nul)).replace(/^ +/, '')
  const open = key.indexOf('[')
  const baseEnd = open === -1 ? key.length : open
  if (baseEnd === 0) return undefined
  const base = key.slice(0, baseEnd).replace(/[ .]/g, '_')
  const path: FormPath = [base]
  let cursor = open
  while (key[cursor] === '[') {
    const close = key.indexOf(']', cursor + 1)
    if (close === -1) {
      // An unclosed first bracket makes the whole name plain; a later one is ignored.
      if (path.length === 1) return [base + '_' + key.slice(open + 1).replace(/[ .[]/g, '_')]
      break
    }
    if (path.length > maxDepth) throw new FormParseError(`a form key nests deeper than ${maxDepth} levels`)
    const index = key.slice(cursor + 1, close)
    path.push(index === '' || BLANK_INDEX.has(index) ? null : index)
    cursor = close + 1
  }
  return path
}

/**
 * The fast case, straight from the raw key, for what Bitrix24 sends: names of plain characters
 * and brackets written `[`/`]` or `%5B`/`%5D`. `null` for anything else (`+`, other escapes,
 * blanks, dots in the base name, unclosed brackets): the general case handles it.
 */
function readPlainKey(raw: string, maxDepth: number): ReadKey | null {
  const length = raw.length
  let escapes = 0
  let at = 0
  let bracket = 0 // width of the bracket at `at`: 1 for `[`, 3 for `%5B`, 0 for none
  for (; at < length; at++) {
    bracket = bracketAt(raw, at, OPEN)
    if (bracket) break
    const code = raw.charCodeAt(at)
    if (code <= 0x20 || code === PERCENT || code === PLUS || code === DOT) return null
  }
  if (at === 0) return { path: undefined, length: raw.length }
  const path: FormPath = [raw.slice(0, at)]
  while (bracket) {
    if (bracket === 3) escapes++
    const start = at + bracket
    let end = start
    let close = 0
    for (; end < length; end++) {
      close = bracketAt(raw, end, CLOSE)
      if (close) break
      const code = raw.charCodeAt(end)
      if (code <= 0x20 || code === PERCENT || code === PLUS || code === OPEN) return null
    }
    if (!close) return null
    if (path.length > maxDepth) throw new FormParseError(`a form key nests deeper than ${maxDepth} levels`)
    if (close === 3) escapes++
    path.push(end === start ? null : raw.slice(start, end))
    at = end + close
    bracket = bracketAt(raw, at, OPEN)
  }
  return { path, length: raw.length - 2 * escapes }
}

// The width of the bracket `[` (or `]`) at `at`: 1 as itself, 3 as `%5B`/`%5b` (`%5D`/`%5d`), 0 for none.
function bracketAt(raw: string, at: number, bracket: typeof OPEN | typeof CLOSE): number {
  const code = raw.charCodeAt(at)
  if (code === bracket) return 1
  // The escape's last hex digit is the bracket's own: `[` is 0x5B, `]` is 0x5D; `| 0x20` folds case.
  const letter = bracket === OPEN ? 0x62 : 0x64
  return code === PERCENT && raw.charCodeAt(at + 1) === 0x35 && (raw.charCodeAt(at + 2) | 0x20) === letter ? 3 : 0
}
