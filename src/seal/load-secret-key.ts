import { ensureKeyFile } from './key-file.ts'
import { parseSecretKey } from './secret-key.ts'

/**
 * The key that seals credentials: the one given (32 bytes, or `B24_SECRET_KEY`'s text forms), or
 * else the one generated under `dataDir` for the embedded store.
 * @throws {ConfigError} for a key that is not one; the file system's error when `dataDir` cannot
 *   hold the key file (yet).
 */
export async function loadSecretKey(given: string | Buffer | undefined, dataDir: string): Promise<Buffer> {
  if (given === undefined) return (await ensureKeyFile(dataDir)).key
  return typeof given === 'string' ? parseSecretKey(given, 'secretKey') : given
}
