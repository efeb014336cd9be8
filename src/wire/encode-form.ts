import { formatPhpFloat, PhpFloat } from './php-float.ts'
import { phpUrlEncode } from './php-url-encode.ts'

/**
 * A value as PHP holds it before `http_build_query`: a JS number is an integer when it is a safe
 * integer and a float otherwise; {@link PhpFloat} forces a float; a `Map` keeps its key order
 * (plain objects put integer-like keys first).
 */
export type PhpValue =
  | null
  | undefined
  | boolean
  | string
  | number
  | bigint
  | PhpFloat
  | readonly PhpValue[]
  | ReadonlyMap<string | number, PhpValue>
  | { readonly [key: string]: PhpValue }

/**
 * Encodes a payload exactly as PHP's `http_build_query($payload, '', '&')`: nested keys in
 * brackets (`%5B`, `%5D`), `null` and empty arrays dropped, `true`/`false` as `1`/`0`, floats as
 * `%.14G`, `urlencode` for keys and values.
 */
export function encodeForm(payload: PhpValue): string {
  const parts: string[] = []
  for (const [key, value] of entriesOf(payload)) append(parts, phpUrlEncode(String(key)), value)
  return parts.join('&')
}

function append(parts: string[], key: string, value: PhpValue): void {
  if (value === null || value === undefined) return
  if (typeof value === 'object' && !(value instanceof PhpFloat)) {
    for (const [child, item] of entriesOf(value)) append(parts, `${key}%5B${phpUrlEncode(String(child))}%5D`, item)
    return
  }
  parts.push(`${key}=${phpUrlEncode(scalar(value))}`)
}

function scalar(value: boolean | string | number | bigint | PhpFloat): string {
  if (typeof value === 'string') return value
  if (typeof value === 'boolean') return value ? '1' : '0'
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  return formatPhpFloat(typeof value === 'number' ? value : value.value)
}

function entriesOf(value: PhpValue): Iterable<readonly [string | number, PhpValue]> {
  if (value instanceof Map) return value.entries()
  if (Array.isArray(value)) return value.entries()
  if (typeof value === 'object' && value !== null && !(value instanceof PhpFloat)) return Object.entries(value)
  return []
}
