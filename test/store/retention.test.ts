import { pino } from 'pino'
import t from 'tap'
import { DEAD_LETTER_RETENTION_MS, PURGE_BATCH, purgeDeadLetters, retention } from '../../src/store/retention.ts'
import { captureLogs } from '../helpers.ts'

/** A dead letter holding `n` letters past any cutoff, counting the calls made to it. */
function letters(n: number) {
  const calls: Array<[number, number]> = []
  let left = n
  return {
    calls,
    left: () => left,
    purge: async (before: number, limit: number) => {
      calls.push([before, limit])
      const dropped = Math.min(left, limit)
      left -= dropped
      return dropped
    },
  }
}

t.test('30 days by default, 500 a batch', async (t) => {
  t.equal(DEAD_LETTER_RETENTION_MS, 2_592_000_000)
  t.equal(PURGE_BATCH, 500)
})

t.test('purges a batch at a time until a batch comes back short', async (t) => {
  const deadLetters = letters(1001)
  t.equal(await purgeDeadLetters(deadLetters, 1234), 1001)
  t.same(deadLetters.calls, [[1234, 500], [1234, 500], [1234, 500]])
  const exact = letters(4)
  t.equal(await purgeDeadLetters(exact, 1, { batch: 2 }), 4)
  t.equal(exact.calls.length, 3, 'a full last batch asks once more, finds none')
  const stopping = letters(10)
  let batches = 0
  t.equal(await purgeDeadLetters(stopping, 1, { batch: 2, stopped: () => ++batches > 2 }), 4, 'stops between batches once told')
  t.equal(stopping.left(), 6)
})

t.test('a pass drops what is past the retention, logs one line when it dropped something, and does nothing while the last runs', async (t) => {
  const logs = captureLogs()
  const deadLetters = letters(3)
  let portalsBefore = 0
  let portalsLeft = 1
  const portals = {
    purge: async (before: number) => {
      portalsBefore = before
      const dropped = portalsLeft
      portalsLeft = 0
      return dropped
    },
  }
  const pass = retention({ deadLetters, portals }, 36 * 3_600_000, pino({ level: 'info' }, logs.stream))
  const from = Date.now()
  const first = pass()
  await pass()
  await first
  t.equal(deadLetters.calls.length, 1, 'the call made meanwhile did nothing')
  const [[before]] = deadLetters.calls as [[number, number]]
  t.ok(before >= from - 36 * 3_600_000 && before <= Date.now() - 36 * 3_600_000, 'older than the retention')
  t.equal(portalsBefore, before, 'portals by the same cutoff')
  t.match(logs.parsed(), [{ level: 30, deadLetters: 3, portals: 1, olderThan: '36h', before: new Date(before).toISOString(), msg: 'retention: dropped 3 dead letters and 1 uninstalled portal older than 36h' }])
  await pass()
  t.equal(logs.lines.length, 1, 'nothing dropped: nothing logged')
  t.equal(deadLetters.calls.length, 2, 'a later pass runs')

  const one = letters(1)
  await retention({ deadLetters: one, portals: { purge: async () => 2 } }, 60_000, pino({ level: 'info' }, logs.stream))()
  t.match(logs.parsed()[1], { msg: 'retention: dropped 1 dead letter and 2 uninstalled portals older than 1m' })
  await t.resolves(retention({ deadLetters: letters(1), portals: { purge: async () => 0 } }, 60_000)(), 'no logger: nothing told')
})

t.test('a pass told to stop leaves the portals for later; a failure reaches the caller and the next pass runs', async (t) => {
  let asked = false
  await retention({ deadLetters: letters(5), portals: { purge: async () => ((asked = true), 0) } }, 1, undefined, () => true)()
  t.notOk(asked, 'the portals not looked at')
  let fail = true
  const failing = { purge: async () => (fail ? Promise.reject(new Error('the inbox cannot store events now')) : 0) }
  const pass = retention({ deadLetters: failing, portals: { purge: async () => 0 } }, 1)
  await t.rejects(pass(), /cannot store/)
  fail = false
  await t.resolves(pass(), 'not stuck as running')
})
