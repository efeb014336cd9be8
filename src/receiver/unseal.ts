import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Logger } from 'pino'
import { checkSealKey } from '../seal/check-seal-key.ts'
import { storeDigestKey } from '../seal/digest-key.ts'
import { ensureKeyFile, KEY_FILE } from '../seal/key-file.ts'
import { loadSecretKey } from '../seal/load-secret-key.ts'
import { previousKeys } from '../seal/secret-key.ts'
import { createSealer, type Sealer } from '../seal/sealer.ts'
import type { StoreFactory } from '../store/store-factory.ts'
import type { Store } from '../store/store.ts'

/** A key rotation's side of {@link unseal}. */
export interface UnsealOptions {
  /** The old keys (`previousSecretKeys`): opened with, never sealed with. */
  previous?: ReadonlyArray<string | Buffer>
  /** Told once when the store is still sealed under a previous key. */
  logger?: Pick<Logger, 'warn'>
}

/**
 * The sealer of the given key, or of the key file the store keeps beside it, checked against what
 * `store` holds. With previous keys (a key rotation), a store sealed under one of them is
 * accepted, and said so once; what is sealed from then on is sealed under the given key. The
 * sealer's keyed hashes use the store's digest key (see ../seal/digest-key.ts).
 * @throws {ConfigError} when no key opens what is stored; anything else (a key file not
 *   readable or makeable yet, a store not readable yet during a rotation) may pass if tried again.
 */
export async function unseal(store: Store, secretKey: string | Buffer | undefined, factory: Pick<StoreFactory, 'keyDir'>, options: UnsealOptions = {}): Promise<Sealer> {
  // No key directory: the receiver's settings made sure a key is given.
  const keyDir = factory.keyDir as string
  const keys = [await loadSecretKey(secretKey, keyDir), ...previousKeys(options.previous)]
  const rotating = keys.length > 1
  // During a rotation, which key sealed the store decides the digest key: not guessed while it cannot be read.
  if (rotating && store.unavailable() !== null) throw new Error(`the store cannot be read yet to tell which key sealed it: ${store.unavailable()}`)
  const sealer = createSealer(keys[0] as Buffer, { previous: keys.slice(1) })
  // A given key that fails may be because the embedded store was sealed under its key file: read
  // only then, to say so.
  const keyFile = factory.keyDir === null ? null : resolve(keyDir, KEY_FILE)
  const given = secretKey !== undefined
  const keyFileSealer = given && keyFile !== null && existsSync(keyFile) ? async () => createSealer((await ensureKeyFile(keyDir)).key) : undefined
  const opened = await checkSealKey(store, sealer, { given, keyFile: given && !keyFileSealer ? null : keyFile }, keyFileSealer)
  if (opened !== null && opened > 0) {
    options.logger?.warn(`the store is sealed under previous key ${opened} (B24_SECRET_KEY_PREVIOUS): what is stored from now on is sealed under B24_SECRET_KEY; run \`b24-receiver keys rotate\` once every replica has both, then drop B24_SECRET_KEY_PREVIOUS`)
  }
  if (!rotating && opened === null) return sealer
  return createSealer(keys[0] as Buffer, { previous: keys.slice(1), digestKey: await storeDigestKey(store, sealer, keys, opened) })
}
