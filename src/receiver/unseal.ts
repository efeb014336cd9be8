import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { checkSealKey } from '../seal/check-seal-key.ts'
import { ensureKeyFile, KEY_FILE } from '../seal/key-file.ts'
import { loadSecretKey } from '../seal/load-secret-key.ts'
import { createSealer, type Sealer } from '../seal/sealer.ts'
import type { StoreFactory } from '../store/store-factory.ts'
import type { Store } from '../store/store.ts'

/**
 * The sealer of the given key, or of the key file the store keeps beside it, checked against what
 * `store` holds.
 * @throws {ConfigError} when the key cannot open what is stored; anything else (a key file not
 *   readable or makeable yet) may pass if tried again.
 */
export async function unseal(store: Store, secretKey: string | Buffer | undefined, factory: Pick<StoreFactory, 'keyDir'>): Promise<Sealer> {
  // No key directory: the receiver's settings made sure a key is given.
  const keyDir = factory.keyDir as string
  const sealer = createSealer(await loadSecretKey(secretKey, keyDir))
  // A given key that fails may be because the embedded store was sealed under its key file: read
  // only then, to say so.
  const keyFile = factory.keyDir === null ? null : resolve(keyDir, KEY_FILE)
  const given = secretKey !== undefined
  const keyFileSealer = given && keyFile !== null && existsSync(keyFile) ? async () => createSealer((await ensureKeyFile(keyDir)).key) : undefined
  await checkSealKey(store, sealer, { given, keyFile: given && !keyFileSealer ? null : keyFile }, keyFileSealer)
  return sealer
}
