import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomFillSync } from 'node:crypto'
import { ConfigError } from '../errors.ts'

/** Encrypts credentials before they are stored, and decrypts them when they are read back. */
export interface Sealer {
  /** `v1.` and base64url of a random IV, the ciphertext and its tag: a new IV each time. */
  seal(plain: string): string
  /** The sealed text; throws `SealError` if it was sealed with another key, altered or cut short. */
  open(sealed: string): string
  /**
   * A keyed hash (HMAC-SHA256, hex) of `text`: what is kept of a secret that needs only to be
   * recognised (an application token), so the store alone cannot tell it.
   */
  digest(text: string): string
}

/** Sealed credentials that cannot be opened; the message holds neither them nor what they hide. */
export class SealError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SealError'
  }
}

const ALGORITHM = 'aes-256-gcm'
const VERSION = 'v1.'
const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
/** A UTF-16 surrogate outside a pair (a pair is one code point under `u`): UTF-8 cannot keep it. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

/**
 * AES-256-GCM under `key` (32 bytes): authenticated, so a wrong key or an altered value fails
 * to open instead of giving garbage. The version prefix leaves room for another scheme later.
 */
export function createSealer(key: Buffer): Sealer {
  if (key.length !== KEY_BYTES) throw new ConfigError(`the secret key must be ${KEY_BYTES} bytes, not ${key.length}`)
  const secret = createSecretKey(key)
  // Its own key, derived from the sealing key: one key never serves two algorithms.
  const hashKey = createHmac('sha256', key).update('b24-receiver digest v1').digest()
  // IVs are drawn from the system's CSPRNG in blocks: one call per few hundred seals, not one each.
  const pool = Buffer.alloc(IV_BYTES * 512)
  let taken = pool.length
  const nextIv = (): Buffer => {
    if (taken === pool.length) {
      randomFillSync(pool)
      taken = 0
    }
    taken += IV_BYTES
    return Buffer.from(pool.subarray(taken - IV_BYTES, taken))
  }
  return {
    seal(plain) {
      if (LONE_SURROGATE.test(plain)) throw new SealError('cannot seal credentials: the text has a lone UTF-16 surrogate, which UTF-8 cannot keep')
      const iv = nextIv()
      const cipher = createCipheriv(ALGORITHM, secret, iv, { authTagLength: TAG_BYTES })
      const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()])
      return VERSION + body.toString('base64url')
    },
    open(sealed) {
      if (!sealed.startsWith(VERSION)) throw new SealError(`cannot open sealed credentials: they are not in a known format (expected the ${VERSION} prefix)`)
      const text = sealed.slice(VERSION.length)
      const body = Buffer.from(text, 'base64url')
      // Only the exact encoding is accepted: base64url decoding would skip a stray character.
      if (body.length < IV_BYTES + TAG_BYTES || body.toString('base64url') !== text) {
        throw new SealError('cannot open sealed credentials: they are damaged (cut short or not base64url)')
      }
      const decipher = createDecipheriv(ALGORITHM, secret, body.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES })
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES))
      try {
        return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8')
      } catch {
        throw new SealError(
          'cannot open sealed credentials: the secret key (B24_SECRET_KEY or DATA_DIR/secret.key) is not the one they were sealed with, or they were altered',
        )
      }
    },
    digest: (text) => createHmac('sha256', hashKey).update(text, 'utf8').digest('hex'),
  }
}
