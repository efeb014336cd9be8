import t, { type Test } from 'tap'
import { Pacer } from '../../../src/bitrix/pacer.ts'
import { NewerFormatError } from '../../../src/store/newer-format-error.ts'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { PostgresRestBuckets } from '../../../src/store/postgres/postgres-rest-buckets.ts'
import { openPgStore, sql, testDatabase } from './postgres-fixture.ts'

const RATE = { drainPerSecond: 2, threshold: 50 }
/** A bucket that drains so slowly that the time a test takes drains nothing of it. */
const SLOW = { drainPerSecond: 0.001, threshold: 50 }

async function twoReplicas(t: Test) {
  const url = await testDatabase(t)
  const buckets = () => {
    const db = new PostgresDatabase({ connectionString: url })
    t.teardown(() => db.end())
    return new PostgresRestBuckets(db)
  }
  return { url, a: buckets(), b: buckets() }
}

/** Moves a bucket's time back by `ms`, as if that long had passed on the database's clock. */
const age = (url: string, portal: string, ms: number) => sql(url, 'UPDATE b24_rest_buckets SET at = at - $2 WHERE portal = $1', [portal, ms])

t.test('replicas take from one bucket per portal, a row each, up to the margin below the threshold', async (t) => {
  const { url, a, b } = await twoReplicas(t)
  t.match(await a.take('p.bitrix24.com', 5, SLOW), { granted: 5, retryInMs: 0, level: 5 }, 'a new portal: a new row')
  t.match(await b.take('p.bitrix24.com', 5, SLOW), { granted: 5, retryInMs: 0 }, 'the other replica counts in the same bucket')
  t.match(await b.take('q.bitrix24.com', 60, SLOW), { granted: 48, level: 48 }, 'another portal, another bucket; no more than fits')
  const [row] = (await sql<{ level: number; format: number }>(url, "SELECT level, format FROM b24_rest_buckets WHERE portal = 'p.bitrix24.com'")) as [{ level: number; format: number }]
  t.ok(row.level >= 9.9 && row.level <= 10, `counted: ${row.level}`)
  t.equal(row.format, 1, 'the row carries its format')
  // Both at once, wanting more than is left: no more is granted than there is room for.
  const taken = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).take('p.bitrix24.com', 5, SLOW)))
  t.equal(taken.reduce((sum, take) => sum + take.granted, 0), 38, 'the rest of the room, however the takes interleave')
  t.ok(taken.some((take) => take.granted === 0 && take.retryInMs > 0), 'the last are told when a slot frees')
})

t.test('the bucket drains by the database clock; a refusal fills it', async (t) => {
  const { url, a, b } = await twoReplicas(t)
  t.match(await a.take('p.bitrix24.com', 48, RATE), { granted: 48 })
  await age(url, 'p.bitrix24.com', 3000)
  const after = await b.take('p.bitrix24.com', 10, RATE)
  t.ok(after.granted === 6 || after.granted === 7, `3 s drained 6 (and the time between): ${after.granted}`)
  await age(url, 'p.bitrix24.com', 3_600_000)
  t.match(await a.take('p.bitrix24.com', 1, RATE), { granted: 1, level: 1 }, 'never below empty')
  await a.fill('p.bitrix24.com', RATE)
  const full = await b.take('p.bitrix24.com', 1, RATE)
  t.match(full, { granted: 0 })
  t.ok(full.retryInMs > 1400 && full.retryInMs <= 1500, `full: ${full.retryInMs} ms to the next slot`)
  await b.fill('new.bitrix24.com', RATE)
  t.match(await a.take('new.bitrix24.com', 1, RATE), { granted: 0 }, 'a portal never counted, filled all the same')
  await sql(url, "UPDATE b24_rest_buckets SET at = at + 60000 WHERE portal = 'new.bitrix24.com'")
  t.match(await a.take('new.bitrix24.com', 1, RATE), { granted: 0 }, 'a time ahead of now drains nothing')
  await a.fill('new.bitrix24.com', RATE)
})

t.test('a bucket a newer version wrote is left alone', async (t) => {
  const { url, a } = await twoReplicas(t)
  await a.take('p.bitrix24.com', 1, RATE)
  await sql(url, "UPDATE b24_rest_buckets SET format = 2, level = 7 WHERE portal = 'p.bitrix24.com'")
  await t.rejects(a.take('p.bitrix24.com', 1, RATE), NewerFormatError)
  await t.rejects(a.take('p.bitrix24.com', 1, RATE), { message: /the REST bucket of p\.bitrix24\.com was stored by a newer version/ })
  await a.fill('p.bitrix24.com', RATE)
  t.same(await sql(url, 'SELECT level, format FROM b24_rest_buckets'), [{ level: 7, format: 2 }], 'neither taken from nor filled')
})

t.test('the store has them', async (t) => {
  const store = await openPgStore(t)
  t.match(await store.restBuckets?.take('p.bitrix24.com', 2, RATE), { granted: 2 })
  t.same(await sql(store.connectionString, 'SELECT portal FROM b24_rest_buckets'), [{ portal: 'p.bitrix24.com' }])
})

t.test('two replicas pacing one portal through the shared bucket send no more between them than it lets through', async (t) => {
  const { a, b } = await twoReplicas(t)
  // 10 calls of room, 20 a second after: 40 calls take at least 1.5 s between both, as on one.
  const rates = { rate: { drainPerSecond: 20, threshold: 12 }, portals: {} }
  const replicas = [new Pacer({ buckets: () => a, rates }), new Pacer({ buckets: () => b, rates })]
  const started = Date.now()
  const sent: number[] = []
  await Promise.all(Array.from({ length: 40 }, (_, i) => (replicas[i % 2] as Pacer).take('p.bitrix24.com', 'm').then(() => void sent.push(Date.now() - started))))
  sent.sort((x, y) => x - y)
  // Within any stretch of time, no more than the room and what drained meanwhile (a few ms of slack for the clocks).
  const over: string[] = []
  for (let i = 0; i < sent.length; i++) {
    for (let j = i + 11; j < sent.length; j++) {
      const allowed = 10 + Math.ceil((((sent[j] as number) - (sent[i] as number) + 60) / 1000) * 20)
      if (j - i + 1 > allowed) over.push(`calls ${i}..${j} within ${(sent[j] as number) - (sent[i] as number)} ms`)
    }
  }
  t.same(over, [], 'never more than the bucket lets through')
  t.ok((sent[39] as number) >= 1400, `the last sent after ${sent[39]} ms`)
})
