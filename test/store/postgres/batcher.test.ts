import t from 'tap'
import { Batcher } from '../../../src/store/postgres/batcher.ts'

// A run that waits until the test lets it finish: what comes meanwhile must wait for the next batch.
function controlledRun() {
  const batches: number[][] = []
  const finishers: Array<(error?: Error) => void> = []
  const run = (items: number[]) =>
    new Promise<void>((resolve, reject) => {
      batches.push(items)
      finishers.push((error) => (error ? reject(error) : resolve()))
    })
  return { run, batches, finish: (i: number, error?: Error) => (finishers[i] as (error?: Error) => void)(error) }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

t.test('the calls of one turn go in one batch; what comes while it runs waits for the next, which waiting makes bigger', async (t) => {
  const { run, batches, finish } = controlledRun()
  const batcher = new Batcher(run, { maxBatch: 100, maxInFlight: 1 })
  const first = [1, 2, 3].map((n) => batcher.add(n))
  await turn()
  t.same(batches, [[1, 2, 3]])
  const second = [4, 5].map((n) => batcher.add(n))
  await turn()
  const third = [6].map((n) => batcher.add(n))
  await turn()
  t.same(batches, [[1, 2, 3]], 'one batch in flight at most')
  finish(0)
  await Promise.all(first)
  t.same(batches, [[1, 2, 3], [4, 5, 6]])
  finish(1)
  await Promise.all([...second, ...third])
})

t.test('a batch is at most maxBatch calls, and up to maxInFlight run at once', async (t) => {
  const { run, batches, finish } = controlledRun()
  const batcher = new Batcher(run, { maxBatch: 2, maxInFlight: 2 })
  const calls = [1, 2, 3, 4, 5].map((n) => batcher.add(n))
  await turn()
  t.same(batches, [[1, 2], [3, 4]])
  finish(1)
  await Promise.all(calls.slice(2, 4))
  t.same(batches, [[1, 2], [3, 4], [5]])
  finish(0)
  finish(2)
  await Promise.all(calls)
})

t.test("a failed batch rejects each of its calls with the batch's error, and only them", async (t) => {
  const { run, finish } = controlledRun()
  const batcher = new Batcher(run, { maxBatch: 10, maxInFlight: 1 })
  const failing = [1, 2].map((n) => batcher.add(n))
  await turn()
  const next = batcher.add(3)
  const error = new Error('lost')
  finish(0, error)
  for (const call of failing) await t.rejects(call, error)
  await turn()
  finish(1)
  await next
})

t.test('drain runs what waits and resolves once every batch has answered, those it started meanwhile too', async (t) => {
  const { run, batches, finish } = controlledRun()
  const batcher = new Batcher(run, { maxBatch: 1, maxInFlight: 1 })
  const calls = [1, 2].map((n) => batcher.add(n))
  let drained = false
  const draining = batcher.drain().then(() => (drained = true))
  t.same(batches, [[1]], 'sent at once, not at the next turn')
  finish(0)
  await calls[0]
  await turn()
  t.same(batches, [[1], [2]])
  t.notOk(drained, 'the second batch still runs')
  finish(1)
  await draining
  await calls[1]
  await batcher.drain()
})
