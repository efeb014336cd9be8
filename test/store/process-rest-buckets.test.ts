import t from 'tap'
import { ProcessRestBuckets } from '../../src/store/process-rest-buckets.ts'
import { BUCKET_MARGIN, grantable, nextSlotInMs, usableOf } from '../../src/store/rest-buckets.ts'

const RATE = { drainPerSecond: 2, threshold: 50 }

t.test('the bucket model: room up to the margin below the threshold, a slot freed every 1/drain s', async (t) => {
  t.equal(BUCKET_MARGIN, 2)
  t.equal(usableOf(RATE), 48)
  t.equal(usableOf({ drainPerSecond: 1, threshold: 2 }), 1, 'at least one call')
  t.equal(grantable(0, 5, RATE), 5)
  t.equal(grantable(45.5, 5, RATE), 2)
  t.equal(grantable(48, 5, RATE), 0)
  t.equal(grantable(60, 5, RATE), 0)
  t.equal(nextSlotInMs(47, RATE), 0)
  t.equal(nextSlotInMs(48, RATE), 500)
  t.equal(nextSlotInMs(50, RATE), 1500)
  const noisy = 48 - 0.577 * 2 + 1 - 0.423 * 2 // 47.00000000000001
  t.equal(nextSlotInMs(noisy, RATE), 0, 'float noise: a slot free now…')
  t.equal(grantable(noisy, 5, RATE), 1, '…and granted now (not refused, to be asked for again at once)')
})

t.test("one process's buckets: per portal, drained by the clock, filled when the portal refused", async (t) => {
  let now = 1000
  const buckets = new ProcessRestBuckets(() => now)
  t.same(await buckets.take('a.bitrix24.com', 5, RATE), { granted: 5, retryInMs: 0, level: 5 })
  t.same(await buckets.take('a.bitrix24.com', 50, RATE), { granted: 43, retryInMs: 500, level: 48 })
  t.same(await buckets.take('b.bitrix24.com', 5, RATE), { granted: 5, retryInMs: 0, level: 5 }, 'another portal, another bucket')
  now += 400
  t.same(await buckets.take('a.bitrix24.com', 1, RATE), { granted: 0, retryInMs: 100, level: 47.2 })
  now += 100
  t.match(await buckets.take('a.bitrix24.com', 3, RATE), { granted: 1, retryInMs: 500 })
  now += 60_000
  t.same(await buckets.take('a.bitrix24.com', 1, RATE), { granted: 1, retryInMs: 0, level: 1 }, 'drained, never below empty')
  await buckets.fill('a.bitrix24.com', RATE)
  t.same(await buckets.take('a.bitrix24.com', 1, RATE), { granted: 0, retryInMs: 1500, level: 50 }, 'full: the margin and one more drain first')
  await buckets.fill('c.bitrix24.com', RATE)
  t.match(await buckets.take('c.bitrix24.com', 1, RATE), { granted: 0 }, 'a portal never counted, full all the same')
  now -= 5000
  t.match(await buckets.take('c.bitrix24.com', 1, RATE), { granted: 0, level: 50 }, 'a clock gone back drains nothing')
})

t.test('by default the system clock', async (t) => {
  t.match(await new ProcessRestBuckets().take('a', 1, RATE), { granted: 1 })
})
