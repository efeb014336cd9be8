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
