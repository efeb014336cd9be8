import t from 'tap'
import type { ClaimedRecord } from '../../../src/store/store.ts'
import { eventually } from '../../helpers.ts'
import { eavesdrop, listening, newRecord, openPgStore, textOf } from './postgres-fixture.ts'

// What every store does with its dead letter is in ../store-contract.ts; here, what replicas share.

t.test('a dead letter revived on one replica wakes the idle workers of every replica', async (t) => {
  const a = await openPgStore(t, { pollIntervalMs: 60000 })
  const b = await openPgStore(t, { pollIntervalMs: 60000, connectionString: a.connectionString })
  await a.append(newRecord(1, 'failed'))
  const [record] = (await a.queue.claim(10)) as [ClaimedRecord]
  await a.queue.bury(record, 3, 'Error: boom')
  t.same(await b.queue.claim(10), [])
  t.match(await b.deadLetters.list(), [{ id: record.id, attempts: 3, error: 'Error: boom' }], 'every replica sees the same dead letter')
  await eventually(async () => (await listening(a.connectionString)) === 2)
  let told = 0
  b.queue.onAvailable(() => told++)
  // `dlq replay`, run against replica a's store.
  await a.deadLetters.revive(record.id)
  await eventually(() => told > 0)
  t.same((await b.queue.claim(10)).map(textOf), ['failed'])
})

t.test('a revive that finds no dead letter announces nothing', async (t) => {
  const store = await openPgStore(t)
  const listener = await eavesdrop(t, store.connectionString)
  await store.deadLetters.revive(12345)
  await store.append(newRecord(1, 'x'))
  // Notifications come in commit order: once the append's is heard, a revive's would have been too.
  await eventually(() => listener.heard() > 0)
  t.equal(listener.heard(), 1)
})
