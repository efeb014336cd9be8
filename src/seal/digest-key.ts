import { ConfigError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import { checkOpener } from './check-seal-key.ts'
import { digestKeyOf, type KeyringSealer } from './sealer.ts'

/**
 * The meta entry of the store's digest key, sealed, once a key rotation has kept it: a keyed hash
 * (a portal's application token) cannot be computed again without what it hides, so the key it
 * was made with outlives the sealing key it was first derived from.
 */
export const DIGEST_KEY = 'seal.digest-key'

/**
 * The key of the store's keyed hashes: the one a rotation kept (sealed in the store), else the one
 * derived from the key that sealed the store (`opened`, the index of that key in `keys`, as
 * `checkSealKey` found it; the current key's for a new store).
 * @throws {ConfigError} when the kept one opens with none of the keys.
 */
export async function storeDigestKey(store: Pick<Store, 'meta'>, sealer: KeyringSealer, keys: readonly Buffer[], opened: number | null): Promise<Buffer> {
  const kept = await store.meta.get(DIGEST_KEY)
  if (kept === null) return digestKeyOf(keys[opened ?? 0] as Buffer)
  try {
    return Buffer.from(sealer.open(kept), 'hex')
  } catch {
    throw new ConfigError(`the store's digest key (${DIGEST_KEY}) opens with none of the keys given: give the key the store was rotated to`)
  }
}

/**
 * The first step of `keys rotate`: the store's digest key kept in the store, sealed under the
 * current key (sealed again if a previous key sealed it), before anything else changes. Every
 * replica then hashes with the same key, whichever keys it was given. `true` when it wrote it.
 * @throws {ConfigError} when no key opens the store.
 */
export async function keepDigestKey(store: Pick<Store, 'meta'>, sealer: KeyringSealer, keys: readonly Buffer[]): Promise<boolean> {
  const kept = await store.meta.get(DIGEST_KEY)
  if (kept === null) {
    const opened = await checkOpener(store, sealer)
    if (opened === null && (await store.meta.get('seal.check')) !== null) throw new ConfigError('none of the keys given opens this store: give the key it is sealed under in B24_SECRET_KEY_PREVIOUS')
    await store.meta.set(DIGEST_KEY, sealer.seal(digestKeyOf(keys[opened ?? 0] as Buffer).toString('hex')))
    return true
  }
  let again: string | null
  try {
    again = sealer.reseal(kept)
  } catch {
    throw new ConfigError(`the store's digest key (${DIGEST_KEY}) opens with none of the keys given: give the key it is sealed under in B24_SECRET_KEY_PREVIOUS`)
  }
  if (again === null) return false
  await store.meta.set(DIGEST_KEY, again)
  return true
}
