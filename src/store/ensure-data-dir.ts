import { chmodSync, mkdirSync } from 'node:fs'

/**
 * Creates `DATA_DIR` if it is missing, readable by its owner only (0700, whatever the process
 * umask): it holds message text, sealed tokens and the secret key. A directory that exists is
 * left as its owner set it up (a mounted volume may be shared on purpose); the files in it are
 * made 0600 by whoever creates them.
 */
export function ensureDataDir(dataDir: string): void {
  // With `recursive`, the first directory made, or undefined when it all existed.
  const made = mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  // mkdir's mode is masked by the umask, and `recursive` leaves parents at the mode too: set it.
  if (made !== undefined) chmodSync(dataDir, 0o700)
}
