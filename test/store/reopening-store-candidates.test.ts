import t from 'tap'
import { pino } from 'pino'
import { reopeningStore } from '../../src/store/reopening-store.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { newRecord } from '../fakes/new-record.ts'
import { eventually } from '../helpers.ts'
import { newCandidate } from './candidates-contract.ts'
import { portalRow } from './store-contract.ts'

t.test("candidate installs: refused until the store opens, then the opened store's", async (t) => {
  let inner: MemoryStore | null = null
  let attempts = 0
  const store = reopeningStore(
    () => {
      if (++attempts === 1) throw new Error('not yet')
      return (inner = new MemoryStore())
    },
    pino({ level: 'silent' }),
    10,
  )
  t.teardown(() => store.close())
  const candidates = store.candidates!
  await t.rejects(candidates.list(), { name: 'StoreUnavailableError', statusCode: 503 })
  await eventually(() => inner !== null)
  const bounds = { perPortal: 3, total: 10 }
  t.same(await candidates.add(newCandidate('m'), newRecord(1, 'install'), bounds), { id: 1 })
  t.same(await candidates.add(newCandidate('n'), newRecord(2, 'install'), bounds), { id: 2 })
  t.equal(await candidates.append(1, newRecord(1, 'event'), 10), 'stored')
  t.match(await candidates.get(1), { memberId: 'm' })
  t.match(await candidates.of('m'), [{ id: 1 }])
  t.equal((await candidates.list()).length, 2)
  t.same(await candidates.stats(), { candidates: 2, events: 3 })
  t.ok(await candidates.drop(2))
  t.ok(await candidates.confirm(1, portalRow('m')))
  t.equal(inner!.rows.length, 2, 'in the opened store')
  t.match(await inner!.portals.get('m'), { status: 'active' })
})
