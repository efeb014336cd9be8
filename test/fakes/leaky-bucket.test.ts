import t from 'tap'
import { DEFAULT_BUCKET_RATE, LeakyBucket } from './leaky-bucket.ts'
import { ManualClock } from './manual-clock.ts'

t.test('from empty, exactly the threshold passes at once; then one slot every 1 / Y s', async (t) => {
  const clock = new ManualClock()
  const bucket = new LeakyBucket(() => clock.now())
  t.same(bucket.rate, DEFAULT_BUCKET_RATE)
  let passed = 0
  while (bucket.take()) passed++
  t.equal(passed, 50)
  t.equal(bucket.level(), 50, 'a refusal does not raise the counter')
  clock.advance(499)
  t.notOk(bucket.take(), 'not yet a whole slot')
  clock.advance(1)
  t.ok(bucket.take(), 'after 1 / 2 s')
  t.notOk(bucket.take())
  clock.advance(60_000)
  t.equal(bucket.level(), 0, 'drained, never below empty')
})

t.test('N requests take (N − X) / Y s at the least', async (t) => {
  const clock = new ManualClock()
  const bucket = new LeakyBucket(() => clock.now(), { drainPerSecond: 5, threshold: 250 })
  let passed = 0
  const start = clock.now()
  while (passed < 400) {
    if (bucket.take()) passed++
    else clock.advance(10)
  }
  t.equal(clock.now() - start, ((400 - 250) / 5) * 1000)
})

t.test('setRate keeps what drained so far; spend fills as another caller would, up to the threshold', async (t) => {
  const clock = new ManualClock()
  const bucket = new LeakyBucket(() => clock.now())
  bucket.spend(30)
  t.equal(bucket.level(), 30)
  clock.advance(5000)
  bucket.setRate({ drainPerSecond: 1, threshold: 25 })
  t.same(bucket.rate, { drainPerSecond: 1, threshold: 25 })
  t.equal(bucket.level(), 20, 'drained at 2/s before the change')
  clock.advance(2000)
  t.equal(bucket.level(), 18, 'at 1/s after it')
  bucket.spend(100)
  t.equal(bucket.level(), 25)
  t.notOk(bucket.take())
})
