import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomFillSync, type KeyObject } from 'node:crypto'
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

/**
 * A sealer that may also hold the previous keys of a key rotation (`B24_SECRET_KEY_PREVIOUS`):
 * it opens what any of its keys sealed and seals with the current one only.
 */
export interface KeyringSealer extends Sealer {
  /** How many keys it opens with: the current one and the previous ones. */
  readonly keys: number
  /**
   * Which of its keys opens `sealed`: 0 the current one, 1… the previous ones in the order given.
   * @throws {SealError} when none does (or it is damaged).
   */
  keyOf(sealed: string): number
  /**
   * `sealed` sealed again under the current key, or `null` when the current key sealed it already.
   * @throws {SealError} when none of its keys opens it.
   */
  reseal(sealed: string): string | null
}

/** What {@link createSealer} takes beside the current key. */
export interface SealerOptions {
  /** The keys of a rotation's earlier keys (32 bytes each): opened with, never sealed with. */
  previous?: readonly Buffer[]
  /**
   * The key of {@link Sealer.digest} (32 bytes): the store's own, kept across key rotations (a
   * keyed hash cannot be computed again without what it hides); by default derived from `key`.
   */
  digestKey?: Buffer
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
const WRONG_KEY = 'cannot open sealed credentials: the secret key (B24_SECRET_KEY or DATA_DIR/secret.key) is not the one they were sealed with, or they were altered'

/**
 * The digest's key derived from a sealing key: its own key, one key never serving two
 * algorithms. What a store sealed by `key` digests with until a rotation keeps it (`seal.digest-key`).
 */
export const digestKeyOf = (key: Buffer): Buffer => createHmac('sha256', key).update('b24-receiver digest v1').digest()

function checkKey(key: Buffer, what: string): void {
  if (key.length !== KEY_BYTES) throw new ConfigError(`${what} must be ${KEY_BYTES} bytes, not ${key.length}`)
}

/**
 * AES-256-GCM under `key` (32 bytes): authenticated, so a wrong key or an altered value fails
 * to open instead of giving garbage. The version prefix leaves room for another scheme later.
 * A value does not say which key sealed it (the `v1.` format is kept: every release reads what
 * another writes): with previous keys, each is tried in turn, which GCM's tag tells at once.
 */
export function createSealer(key: Buffer, options: SealerOptions = {}): KeyringSealer {
  checkKey(key, 'the secret key')
  const previous = options.previous ?? []
  previous.forEach((old, i) => checkKey(old, `previous secret key ${i + 1}`))
  if (options.digestKey) checkKey(options.digestKey, 'the digest key')
  const secrets = [key, ...previous].map((each) => createSecretKey(each))
  const hashKey = options.digestKey ?? digestKeyOf(key)
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
  const seal = (plain: string): string => {
    if (LONE_SURROGATE.test(plain)) throw new SealError('cannot seal credentials: the text has a lone UTF-16 surrogate, which UTF-8 cannot keep')
    const iv = nextIv()
    const cipher = createCipheriv(ALGORITHM, secrets[0] as KeyObject, iv, { authTagLength: TAG_BYTES })
    const body = Buffer.concat([iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return VERSION + body.toString('base64url')
  }
  // The text and the index of the key that opened it.
  const openWith = (sealed: string): [string, number] => {
    if (!sealed.startsWith(VERSION)) throw new SealError(`cannot open sealed credentials: they are not in a known format (expected the ${VERSION} prefix)`)
    const text = sealed.slice(VERSION.length)
    const body = Buffer.from(text, 'base64url')
    // Only the exact encoding is accepted: base64url decoding would skip a stray character.
    if (body.length < IV_BYTES + TAG_BYTES || body.toString('base64url') !== text) {
      throw new SealError('cannot open sealed credentials: they are damaged (cut short or not base64url)')
    }
    for (let i = 0; i < secrets.length; i++) {
      const decipher = createDecipheriv(ALGORITHM, secrets[i] as KeyObject, body.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES })
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES))
      try {
        return [Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8'), i]
      } catch {
        // Not this key: the next one.
      }
    }
    throw new SealError(previous.length === 0 ? WRONG_KEY : WRONG_KEY.replace('(B24_SECRET_KEY or DATA_DIR/secret.key) is not the one', '(B24_SECRET_KEY) and the previous ones (B24_SECRET_KEY_PREVIOUS) are not the ones'))
  }
  return {
    keys: secrets.length,
    seal,
    open: (sealed) => openWith(sealed)[0],
    keyOf: (sealed) => openWith(sealed)[1],
    reseal(sealed) {
      const [plain, index] = openWith(sealed)
      return index === 0 ? null : seal(plain)
    },
    digest: (text) => createHmac('sha256', hashKey).update(text, 'utf8').digest('hex'),
  }
}
