import { rmSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.ts'
import { newRecord } from '../fakes/new-record.ts'
import { eventually } from '../helpers.ts'

t.test('the embedded store notices DATA_DIR removed under it (no logger: a command beside the service) and refuses appends', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const store = openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 60_000, pollIntervalMs: 20 })
  t.teardown(() => store.close())
  await store.append(newRecord(1, 'a'))
  t.equal(store.unavailable(), null)
  // Retried: the running store may write a file into it (its WAL) between the emptying and the rmdir.
  rmSync(dataDir, { recursive: true, maxRetries: 10, retryDelay: 10 })
  await eventually(() => store.unavailable() !== null)
  t.match(store.unavailable(), /^DATA_DIR .*data was removed \(or inbox\.db replaced\) while running$/)
  await t.rejects(store.append(newRecord(1, 'b')), { name: 'StoreUnavailableError', statusCode: 503, message: /was removed/ })
})
