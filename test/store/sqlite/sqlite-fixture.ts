import BetterSqlite3, { type Database } from 'better-sqlite3'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { INBOX_FILE } from '../../../src/store/sqlite/open-database.ts'
import { openSqliteStore, type OpenSqliteOptions } from '../../../src/store/sqlite/open-sqlite-store.ts'
import type { ClaimedRecord, Store, StoredRecord } from '../../../src/store/store.ts'

import { textOf } from '../../fakes/new-record.ts'

export { newRecord, PORTAL, textOf } from '../../fakes/new-record.ts'

/** A SQLite store in a fresh directory (or `dataDir`), closed at the end of the test unless the test closed it. */
export function openStore(t: Test, options: Partial<OpenSqliteOptions> = {}): Store & { dataDir: string } {
  const dataDir = options.dataDir ?? t.testdir()
  const store = openSqliteStore({ durability: 'process', dedupWindowMs: 60000, ...options, dataDir })
  let closed = false
  const close = store.close.bind(store)
  // Every call still reaches the store's own close: only the teardown is spared a second one.
  store.close = async () => {
    closed = true
    return close()
  }
  t.teardown(() => (closed ? undefined : close()))
  return Object.assign(store, { dataDir })
}

/**
 * Another connection to the store's database, as another process (`dlq`) or a broken disk would
 * touch it; closed at the end of the test.
 */
export function otherConnection(t: Test, dataDir: string): Database {
  const db = new BetterSqlite3(join(dataDir, INBOX_FILE))
  db.pragma('busy_timeout = 5000')
  t.teardown(() => db.close())
  return db
}

/** Claims everything due and returns the texts, in the order claimed. */
export const claimTexts = async (store: Store, limit = 100): Promise<string[]> => (await store.queue.claim(limit)).map(textOf)

/** Claims and completes until nothing is due; the records in the order they were handed out. */
export async function drain(store: Store, key: (record: StoredRecord) => string | null = () => null): Promise<StoredRecord[]> {
  const handled: StoredRecord[] = []
  for (let claimed = await store.queue.claim(100); claimed.length > 0; claimed = await store.queue.claim(100)) {
    for (const record of claimed) {
      handled.push(record)
      await store.queue.complete(record, key(record))
    }
  }
  return handled
}

/**
 * Resolves with the first claim that hands something out, claiming each time the queue says
 * something may be new (a claim re-arms the queue's own wake-up); rejects after `timeoutMs`.
 */
export function nextClaim(store: Store, timeoutMs = 3000): Promise<ClaimedRecord[]> {
  return new Promise((resolve, reject) => {
    let claiming = false
    const timer = setTimeout(() => {
      unsubscribe()
      reject(new Error('the queue never handed anything out'))
    }, timeoutMs)
    const unsubscribe = store.queue.onAvailable(async () => {
      if (claiming) return
      claiming = true
      const claimed = await store.queue.claim(100)
      claiming = false
      if (claimed.length === 0) return
      unsubscribe()
      clearTimeout(timer)
      resolve(claimed)
    })
  })
}

/** The files under `dir` (its subdirectories too) whose bytes hold `text`, by name relative to `dir`. */
export function filesHolding(dir: string, text: string): string[] {
  const needle = Buffer.from(text)
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => statSync(join(dir, name)).isFile() && readFileSync(join(dir, name)).includes(needle))
    .sort()
}
