import { ConfigError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import type { Sealer } from './sealer.ts'

const CHECK_KEY = 'seal.check'
const CHECK_TEXT = 'b24-receiver'

/** Where the key that did not open the store came from, to say what to do. */
export interface KeySource {
  /** The key file under the data directory: the key used when none was given; else one that may be the right key. */
  keyFile: string | null
  /** `true` when the key was given (`secretKey`, `B24_SECRET_KEY`). */
  given: boolean
  /** A given key that failed: whether the key file's key opens the store instead. */
  keyFileOpens?: boolean
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
export function describeWrongKey(setting: string, { given, keyFile, keyFileOpens }: KeySource): string {
  if (!given) return `the key file ${keyFile} is not the key that sealed the credentials in this store: they were sealed under a key given in ${setting}, give it again`
  const instead = keyFileOpens ? `; the key file ${keyFile} opens them: leave ${setting} unset, or set it to that file's key` : ''
  return `${setting} is not the key that sealed the credentials in this store: give the key they were sealed with${instead}`
}

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
 * the right one; called only when the key fails.
 * @throws {WrongSealKeyError} when the key is not the one the store was sealed with.
 */
export async function checkSealKey(store: Pick<Store, 'meta' | 'unavailable'>, sealer: Sealer, source: KeySource = { given: true, keyFile: null }, keyFileSealer?: () => Promise<Sealer>): Promise<void> {
  if (store.unavailable() !== null) return
  const check = await store.meta.get(CHECK_KEY)
  if (check === null) return store.meta.set(CHECK_KEY, sealer.seal(CHECK_TEXT))
  if (opens(sealer, check)) return
  throw new WrongSealKeyError({ ...source, keyFileOpens: keyFileSealer !== undefined && opens(await keyFileSealer(), check) })
}

function opens(sealer: Sealer, check: string): boolean {
  try {
    return sealer.open(check) === CHECK_TEXT
  } catch {
    return false
  }
}
