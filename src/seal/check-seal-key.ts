import { ConfigError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import type { KeyringSealer } from './sealer.ts'

/** The meta entry that says which key the store is sealed under: a known text, sealed. */
export const CHECK_KEY = 'seal.check'
const CHECK_TEXT = 'b24-receiver'

/** Where the key that did not open the store came from, to say what to do. */
export interface KeySource {
  /** The key file under the data directory: the key used when none was given; else one that may be the right key. */
  keyFile: string | null
  /** `true` when the key was given (`secretKey`, `B24_SECRET_KEY`). */
  given: boolean
  /** A given key that failed: whether the key file's key opens the store instead. */
  keyFileOpens?: boolean
  /** Previous keys were given too (a key rotation): none of them opens the store either. */
  previous?: boolean
}

/** The key does not open what this store holds: what to do, said in the words of whoever gave the key. */
export class WrongSealKeyError extends ConfigError {
  readonly source: KeySource
  constructor(source: KeySource) {
    super(describeWrongKey('secretKey', source))
    this.source = source
  }
}

/** The message, naming the key's setting as its reader knows it (`secretKey`, or `B24_SECRET_KEY` for the service). */
export function describeWrongKey(setting: string, { given, keyFile, keyFileOpens, previous }: KeySource): string {
  if (!given) return `the key file ${keyFile} is not the key that sealed the credentials in this store: they were sealed under a key given in ${setting}, give it again`
  const instead = keyFileOpens ? `; the key file ${keyFile} opens them: leave ${setting} unset, or set it to that file's key` : ''
  const nor = previous ? `, nor is any of ${previousSetting(setting)}` : ''
  return `${setting} is not the key that sealed the credentials in this store${nor}: give the key they were sealed with${instead}`
}

/** The setting of the previous keys beside `setting`: `previousSecretKeys` beside `secretKey`, `B24_SECRET_KEY_PREVIOUS` beside `B24_SECRET_KEY`. */
export const previousSetting = (setting: string): string => (setting === 'secretKey' ? 'previousSecretKeys' : `${setting}_PREVIOUS`)

/** A wrong key told in the service's words (`B24_SECRET_KEY`, not the library's `secretKey`); any other error as it is. */
export function inServiceWords(error: unknown): unknown {
  return error instanceof WrongSealKeyError ? new ConfigError(describeWrongKey('B24_SECRET_KEY', error.source)) : error
}

/**
 * Makes sure `sealer` opens what this store holds: the first start seals a known text into the
 * store's meta; every later start opens it. A different key would leave every stored event's
 * credentials unreadable, so it stops the start instead. A store that cannot be read yet is
 * not checked (its events' credentials then fail to open one by one, and are retried).
 * `keyFileSealer`: reads the key file's, when a key was given and there is one, to say whether it is
 * the right one; called only when the key fails. During a key rotation a previous key of `sealer`
 * opens the store as well (`keys rotate` then seals the check again under the current key).
 * Resolves with the index of the key that opened it (0 the current one, also when the check is
 * new; 1… a previous one), or `null` when the store could not be read.
 * @throws {WrongSealKeyError} when no key of `sealer` is the one the store was sealed with.
 */
export async function checkSealKey(
  store: Pick<Store, 'meta' | 'unavailable'>,
  sealer: KeyringSealer,
  source: KeySource = { given: true, keyFile: null },
  keyFileSealer?: () => Promise<KeyringSealer>,
): Promise<number | null> {
  if (store.unavailable() !== null) return null
  const check = await store.meta.get(CHECK_KEY)
  if (check === null) {
    await store.meta.set(CHECK_KEY, sealer.seal(CHECK_TEXT))
    return 0
  }
  const key = opener(sealer, check)
  if (key !== null) return key
  throw new WrongSealKeyError({ ...source, previous: sealer.keys > 1, keyFileOpens: keyFileSealer !== undefined && opener(await keyFileSealer(), check) !== null })
}

/** Records that the store is sealed under `sealer`'s current key: the last step of `keys rotate`. */
export async function sealCheckAgain(store: Pick<Store, 'meta'>, sealer: KeyringSealer): Promise<void> {
  await store.meta.set(CHECK_KEY, sealer.seal(CHECK_TEXT))
}

/** Which of `sealer`'s keys opens the store's check: 0 the current one, 1… a previous one, `null` none (or no check yet). */
export async function checkOpener(store: Pick<Store, 'meta'>, sealer: KeyringSealer): Promise<number | null> {
  const check = await store.meta.get(CHECK_KEY)
  return check === null ? null : opener(sealer, check)
}

function opener(sealer: KeyringSealer, check: string): number | null {
  try {
    const key = sealer.keyOf(check)
    return sealer.open(check) === CHECK_TEXT ? key : null
  } catch {
    return null
  }
}
