import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureDataDir } from '../store/ensure-data-dir.ts'

/** Where the generated token lives under `DATA_DIR`. */
export const LOCAL_TOKEN_FILE = 'local-app-token'

/**
 * The token a fresh clone runs with when no `B24_APP_TOKENS` is configured: made once at
 * random, kept under `DATA_DIR` (readable by its owner only) so `simulate` can use it.
 * Real Bitrix24 calls carry their portal's token and are refused until it is configured.
 */
export async function ensureLocalToken(dataDir: string): Promise<{ token: string; path: string; created: boolean }> {
  const path = join(dataDir, LOCAL_TOKEN_FILE)
  const existing = await readLocalToken(dataDir)
  if (existing) return { token: existing, path, created: false }
  ensureDataDir(dataDir)
  const token = randomBytes(16).toString('hex')
  await writeFile(path, token + '\n', { mode: 0o600 })
  return { token, path, created: true }
}

/** The local token if one was made, or `null`. */
export async function readLocalToken(dataDir: string): Promise<string | null> {
  const text = await readFile(join(dataDir, LOCAL_TOKEN_FILE), 'utf8').catch(() => null)
  return text?.trim() || null
}
