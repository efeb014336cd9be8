import { chmodSync, closeSync, existsSync, openSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3, { type Database } from 'better-sqlite3'
import { ensureDataDir } from '../ensure-data-dir.ts'
import { StoreUnavailableError } from '../store-unavailable-error.ts'
import type { Durability } from './durability.ts'
import { migrate } from './migrations.ts'


/** How long a statement waits for another process's lock (a `dlq` command) before it fails. */
export const BUSY_TIMEOUT_MS = 5000

/** The inbox database file under `DATA_DIR`. */
export const INBOX_FILE = 'inbox.db'

/**
 * Opens (creating if needed) the inbox database under `dataDir`, in WAL mode, migrated.
 * @throws {StoreUnavailableError} naming the directory when it cannot be created, written or read.
 */
export function openDatabase(dataDir: string, durability: Durability = 'process'): Database {
  const path = join(dataDir, INBOX_FILE)
  let db: Database | undefined
  try {
    ensureDataDir(dataDir)
    ownerOnly(path)
    db = new BetterSqlite3(path)
    // A new database gets 16 KiB pages: a 5 KB wire and its sealed credentials fit in one, with no
    // overflow chain to write on append or to overwrite on delete. (An existing one keeps its own.)
    db.pragma('page_size = 16384')
    // A new database can give free pages back to the file system (./upkeep.ts), a few at a time.
    // Only before its first table: an existing one keeps its mode, reusing free pages, never shrinking.
    db.pragma('auto_vacuum = INCREMENTAL')
    db.pragma('journal_mode = WAL')
    // 16 MiB of cache: the inbox is written at its end and read near it.
    db.pragma('cache_size = -16384')
    // Checkpoint the WAL every ~40 MB rather than 4 MB: each checkpoint fsyncs, fewer is cheaper.
    db.pragma('wal_autocheckpoint = 2500')
    db.pragma('journal_size_limit = 67108864')
    db.pragma(`synchronous = ${durability === 'power' ? 'FULL' : 'NORMAL'}`)
    db.pragma('foreign_keys = ON')
    // A deleted row's content is overwritten, not left in a free page.
    db.pragma('secure_delete = ON')
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`)
    migrate(db)
    return db
  } catch (error) {
    db?.close()
    const code = (error as { code?: string }).code
    const why =
      code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
        ? `${path} is not a readable SQLite database (corrupt?): move it away to start afresh`
        : code === 'EACCES' || code === 'EPERM' || code === 'EISDIR' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'EROFS'
          ? `DATA_DIR ${dataDir} is not writable (cannot open ${path})`
          : `cannot open the inbox in DATA_DIR ${dataDir}: ${(error as Error).message}`
    throw new StoreUnavailableError(why, { cause: error })
  }
}

/**
 * Makes the database file, and its -wal and -shm if they exist, readable by its owner only: the
 * inbox holds message text. SQLite would create it 0644 less the umask; it gives -wal and -shm
 * the database file's mode, so creating that one 0600 first is enough for new files, and files
 * an earlier release left 0644 are tightened.
 */
function ownerOnly(path: string): void {
  closeSync(openSync(path, 'a', 0o600))
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600)
}
