import { statSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t, { type Test } from 'tap'
import { INBOX_FILE } from '../../../src/store/sqlite/open-database.ts'
import type { Store } from '../../../src/store/store.ts'
import { eventually } from '../../helpers.ts'
import { drain, filesHolding, newRecord, openStore, otherConnection } from './sqlite-fixture.ts'
import { NONE_NEWER } from '../store-contract.ts'

// A handled record's credentials (sealed, but still theirs) and its body must not outlive it on
// disk. Deleting a row leaves its bytes in the page unless `secure_delete` is on, and every
// earlier image of the page stays in the WAL until a checkpoint empties it: both are searched
// for here, byte for byte, in every file under DATA_DIR.

const MARKER = 'left-behind-4d7a9e'

/**
 * Stores records holding MARKER in their credentials and bodies (a form, a body past a page,
 * one retried and one dead letter dropped on the way), then handles them all. Before they are
 * handled, the marker is on disk: the search can find it.
 */
async function storeAndHandle(t: Test, store: Store & { dataDir: string }): Promise<void> {
  const records = [
    newRecord(1, `hello ${MARKER}`, { credentials: `sealed-${MARKER}-1` }),
    newRecord(2, 'a form', { bodyKind: 'form', body: `event=ONIMBOTV2MESSAGEADD&data%5BPARAMS%5D%5BMESSAGE%5D=${MARKER}`, credentials: `sealed-${MARKER}-2` }),
    newRecord(1, `${'a long message '.repeat(1000)}${MARKER}`, { credentials: `sealed-${MARKER}-3` }),
    newRecord(3, `retried ${MARKER}`, { credentials: `sealed-${MARKER}-4` }),
    newRecord(4, `dropped ${MARKER}`, { credentials: `sealed-${MARKER}-5` }),
    ...Array.from({ length: 200 }, (_, i) => newRecord(5 + (i % 7), `many ${i} ${MARKER}`, { credentials: `sealed-${MARKER}-many` })),
  ]
  for (const record of records) await store.append(record)
  t.notSame(filesHolding(store.dataDir, MARKER), [], 'control: stored, the marker is on disk')
  const claimed = await store.queue.claim(100)
  const retried = claimed.find((record) => record.body.includes('retried')) as (typeof claimed)[number]
  const dropped = claimed.find((record) => record.body.includes('dropped')) as (typeof claimed)[number]
  await store.queue.retry(retried, 1, Date.now(), 'Error: handler down')
  await store.queue.bury(dropped, 1, 'Error: handler down')
  t.equal(await store.deadLetters.drop(dropped.id), true)
  for (const record of claimed) if (record !== retried && record !== dropped) await store.queue.release(record)
  const handled = await drain(store, (record) => `key:${record.id}`)
  t.equal(handled.length, records.length - 1, 'all handled but the dropped one')
  t.same(await store.stats(), { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0, newerFormat: NONE_NEWER })
}

/** Rewrites the store's pragmas for one test: `null` skips one. */
function rewritePragma(t: Test, rewrite: (source: string) => string | null): void {
  const pragma = BetterSqlite3.prototype.pragma
  BetterSqlite3.prototype.pragma = function (this: BetterSqlite3.Database, source: string, options?: BetterSqlite3.PragmaOptions) {
    const rewritten = rewrite(source)
    return rewritten === null ? [] : pragma.call(this, rewritten, options)
  } as typeof pragma
  t.teardown(() => {
    BetterSqlite3.prototype.pragma = pragma
  })
}

const walSize = (dataDir: string) => statSync(join(dataDir, `${INBOX_FILE}-wal`)).size

t.test('once handled and the store closed, nothing of a record is in any file under DATA_DIR', async (t) => {
  const store = openStore(t)
  await storeAndHandle(t, store)
  await store.close()
  t.same(filesHolding(store.dataDir, MARKER), [])
})

t.test('control: with secure_delete off, the same records leave their bytes in inbox.db', async (t) => {
  rewritePragma(t, (source) => (source === 'secure_delete = ON' ? 'secure_delete = OFF' : source))
  const store = openStore(t)
  await storeAndHandle(t, store)
  await store.close()
  t.same(filesHolding(store.dataDir, MARKER), [INBOX_FILE], 'deleted rows, still in their pages')
})

// The last connection to close empties and deletes the WAL itself; while another process (`dlq`,
// an operator's sqlite3 shell) has the database open, only the store's own checkpoint does.
t.test('with another connection open, closing the store empties the WAL', async (t) => {
  const store = openStore(t)
  const other = otherConnection(t, store.dataDir)
  t.equal(other.prepare('SELECT COUNT(*) FROM inbox').pluck().get(), 0, 'it has read the database: it holds it open')
  await storeAndHandle(t, store)
  await store.close()
  t.equal(walSize(store.dataDir), 0, 'the WAL is truncated')
  t.same(filesHolding(store.dataDir, MARKER), [])
})

t.test('control: without the truncating checkpoint at close, the WAL keeps what the records held', async (t) => {
  rewritePragma(t, (source) => (source === 'wal_checkpoint(TRUNCATE)' ? null : source))
  const store = openStore(t)
  const other = otherConnection(t, store.dataDir)
  other.prepare('SELECT COUNT(*) FROM inbox').get()
  await storeAndHandle(t, store)
  await store.close()
  t.ok(walSize(store.dataDir) > 0)
  // inbox.db may hold some too, for a while: a passive checkpoint (every 250 ms) may have copied
  // pages between the inserts and the deletes, and their zeroed images wait in the WAL.
  t.ok(filesHolding(store.dataDir, MARKER).includes(`${INBOX_FILE}-wal`), 'earlier images of the pages, in the WAL')
})

t.test('while the store runs, the purge empties the WAL of what handled records held', async (t) => {
  const store = openStore(t, { purgeIntervalMs: 10 })
  otherConnection(t, store.dataDir).prepare('SELECT COUNT(*) FROM inbox').get()
  await storeAndHandle(t, store)
  await eventually(() => filesHolding(store.dataDir, MARKER).length === 0)
  t.equal(walSize(store.dataDir), 0)
  await store.append(newRecord(1, 'after the purge'))
  t.match(await store.stats(), { depth: 1 }, 'the store goes on')
})
