import { randomBytes } from 'node:crypto'
import { chmod, open, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ensureDataDir } from '../store/ensure-data-dir.ts'
import { parseSecretKey } from './secret-key.ts'

/** Where the generated key lives under `DATA_DIR`. */
export const KEY_FILE = 'secret.key'

/** How long to wait for a key file another process has created but not yet written. */
const WRITE_WAIT_MS = 1000
const WRITE_POLL_MS = 25

/**
 * The key the embedded store seals credentials with when no `B24_SECRET_KEY` is given: made once
 * at random, kept under `DATA_DIR` readable by its owner only (a looser file is tightened).
 * The file is created exclusively, so two processes starting at once agree on one key; losing
 * it loses what was sealed with it, hence the `sync` before it is used.
 */
export async function ensureKeyFile(dataDir: string): Promise<{ key: Buffer; path: string; created: boolean }> {
  ensureDataDir(dataDir)
  const path = join(dataDir, KEY_FILE)
  const key = randomBytes(32)
  const created = await createExclusive(path, key.toString('hex') + '\n')
  if (created) return { key, path, created }
  return { key: await readKeyFile(path), path, created }
}

/** Writes a new file at `path`, or returns `false` if there already is one. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  const file = await open(path, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') return null
    throw error
  })
  if (!file) return false
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
  return true
}

/** Reads an existing key, waiting a moment if its creator has yet to write it. */
async function readKeyFile(path: string): Promise<Buffer> {
  let text = await readFile(path, 'utf8')
  for (let waited = 0; text === '' && waited < WRITE_WAIT_MS; waited += WRITE_POLL_MS) {
    await sleep(WRITE_POLL_MS)
    text = await readFile(path, 'utf8')
  }
  const key = parseSecretKey(text.trim(), path)
  if ((await stat(path)).mode & 0o077) await chmod(path, 0o600)
  return key
}
