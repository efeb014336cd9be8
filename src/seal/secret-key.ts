import { ConfigError } from '../errors.ts'

const HEX_KEY = /^[0-9a-f]{64}$/i
/** Standard base64, padded: whole 4-character groups, `=` only at the end. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const KEY_BYTES = 32

/**
 * Reads a 256-bit key written as `openssl rand -hex 32` or `openssl rand -base64 32` prints it.
 * Anything else is refused rather than stretched or cut to size, and base64 must be exact (the
 * one spelling that encodes its bytes), since `Buffer.from` would quietly skip what it cannot read.
 * The message names `name` (the variable, or the file) and never the value.
 */
export function parseSecretKey(text: string, name = 'B24_SECRET_KEY'): Buffer {
  if (HEX_KEY.test(text)) return Buffer.from(text, 'hex')
  if (BASE64.test(text)) {
    const key = Buffer.from(text, 'base64')
    if (key.length === KEY_BYTES && key.toString('base64') === text) return key
  }
  throw new ConfigError(`${name} must be 64 hex digits (openssl rand -hex 32) or base64 of exactly 32 bytes (openssl rand -base64 32)`)
}

/**
 * The old keys of a key rotation (`B24_SECRET_KEY_PREVIOUS`): one or more, comma-separated, each
 * read as {@link parseSecretKey} reads a key. A bad one is named by its position, never quoted.
 * @throws {ConfigError} for an empty entry or one that is not a key.
 */
export function parsePreviousKeys(text: string): Buffer[] {
  const name = 'B24_SECRET_KEY_PREVIOUS'
  return text.split(',').map((entry, i) => {
    const key = entry.trim()
    if (key === '') throw new ConfigError(`${name}: key ${i + 1} is empty (give the old keys, comma-separated)`)
    return parseSecretKey(key, `${name}: key ${i + 1}`)
  })
}

/**
 * The library's `previousSecretKeys` (each 32 bytes, or a key's text forms) as keys.
 * @throws {ConfigError} naming the bad one by position.
 */
export function previousKeys(given: ReadonlyArray<string | Buffer> | undefined): Buffer[] {
  const name = 'previousSecretKeys'
  return (given ?? []).map((key, i) => {
    if (typeof key === 'string') return parseSecretKey(key, `${name}[${i}]`)
    if (key.length !== KEY_BYTES) throw new ConfigError(`${name}[${i}] must be ${KEY_BYTES} bytes, not ${key.length}`)
    return key
  })
}
