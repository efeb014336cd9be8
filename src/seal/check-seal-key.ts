import { ConfigError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import type { Sealer } from './sealer.ts'

const CHECK_KEY = 'seal.check'
const CHECK_TEXT = 'b24-receiver'

/**
 * Makes sure `sealer` opens what this store holds: the first start seals a known text into the
 * store's meta; every later start opens it. A different key would leave every stored event's
 * credentials unreadable, so it stops the start instead. A store that cannot be read yet is
 * not checked (its events' credentials then fail to open one by one, and are retried).
 * @throws {ConfigError} when the key is not the one the store was sealed with.
 */
export async function checkSealKey(store: Pick<Store, 'meta' | 'unavailable'>, sealer: Sealer): Promise<void> {
  if (store.unavailable() !== null) return
  const check = await store.meta.get(CHECK_KEY)
  if (check === null) return store.meta.set(CHECK_KEY, sealer.seal(CHECK_TEXT))
  try {
    if (sealer.open(check) === CHECK_TEXT) return
  } catch {
    // another key: said below
  }
  throw new ConfigError('B24_SECRET_KEY (secretKey) is not the key that sealed the credentials in this store: set the key they were sealed with')
}
