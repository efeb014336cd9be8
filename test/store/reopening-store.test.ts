import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { pino } from 'pino'
import { reopeningStore } from '../../src/store/reopening-store.ts'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.ts'
import type { ClaimedRecord, NewRecord, Store } from '../../src/store/store.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { newRecord, unclaimed } from '../fakes/new-record.ts'
import { captureLogs, eventually } from '../helpers.ts'
import { newCandidate } from './candidates-contract.ts'
import { portalRow } from './store-contract.ts'

const record = (text: string): NewRecord => newRecord(1, text)

const unavailable = { name: 'StoreUnavailableError', code: 'INBOX_UNAVAILABLE', statusCode: 503 }

t.test('an unusable DATA_DIR: appends refused and why said, until it is fixed; then it opens and says so', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  writeFileSync(dataDir, 'a file where the directory should be')
  const logs = captureLogs()
  let opens = 0
  const store = reopeningStore(
    () => {
      opens++
      return openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 60000 })
    },
    pino(logs.stream),
    10,
  )
  t.teardown(() => store.close())
  let told = 0
  store.queue.onAvailable(() => told++)
  const why = /^cannot open the inbox in DATA_DIR .*: EEXIST/
  await t.rejects(store.append(record('a')), { ...unavailable, message: why })
  t.match(store.unavailable(), why)
  t.throws(() => store.deadLetters, { ...unavailable, message: why })
  t.throws(() => store.meta, unavailable)
  t.throws(() => store.leases, unavailable)
  await t.rejects(store.stats(), unavailable)
  t.same(await store.queue.claim(10), [], 'nothing to hand out')
  // Rejected, never thrown: every method that returns a promise.
  await t.rejects(store.queue.seen('hook:a'), unavailable)
  const claim = { id: 1, token: 1 }
  await t.rejects(store.queue.complete(claim, 'hook:a'), unavailable)
  await t.rejects(store.queue.retry(claim, 1, Date.now(), 'Error: boom'), unavailable)
  await t.rejects(store.queue.bury(claim, 1, 'Error: boom'), unavailable)
  await t.rejects(store.queue.release(claim), unavailable)

  await eventually(() => opens >= 3)
  t.match(logs.parsed(), [{ level: 50, msg: /^cannot open the inbox in DATA_DIR .*: EEXIST.*: events are refused with 503 until it is fixed$/ }], 'said once, not at every retry')
  t.equal(told, 0)

  rmSync(dataDir)
  mkdirSync(dataDir)
  await eventually(() => store.unavailable() === null)
  t.equal(told, 1, 'its listeners are told')
  t.match(logs.parsed().at(-1), { level: 30, msg: 'the inbox is available again' })
  await store.append(record('a'))
  t.equal(told, 2, 'and told of what the store tells')
  const [stored] = await store.queue.claim(10)
  await store.queue.complete(stored as ClaimedRecord, 'hook:a')
  t.equal(await store.queue.seen('hook:a'), true)
  t.match(await store.stats(), { depth: 0 })
  const opened = opens
  await store.close()
  await store.close()
  t.equal(opens, opened)
  await t.rejects(store.append(record('b')), unavailable)
})

t.test('says each new reason it cannot open once', async (t) => {
  const logs = captureLogs()
  const reasons = ['disk full', 'disk full', 'corrupt', 'corrupt']
  let opens = 0
  const store = reopeningStore(
    () => {
      const reason = reasons[opens++]
      if (reason) throw new Error(reason)
      return new MemoryStore()
    },
    pino(logs.stream),
    1,
  )
  t.teardown(() => store.close())
  t.equal(store.unavailable(), 'disk full')
  await eventually(() => store.unavailable() === null)
  t.same(
    logs.parsed().map((line) => line.msg),
    ['disk full: events are refused with 503 until it is fixed', 'corrupt: events are refused with 503 until it is fixed', 'the inbox is available again'],
  )
})

t.test('a store that opens at once is that store', async (t) => {
  const logs = captureLogs()
  const inner = new MemoryStore()
  let closes = 0
  const close = inner.close.bind(inner)
  inner.close = async () => {
    closes++
    return close()
  }
  const store: Store = reopeningStore(() => inner, pino(logs.stream))
  t.equal(store.unavailable(), null)
  t.same(logs.lines, [], 'nothing to say')
  for (const text of ['a', 'b', 'c']) await store.append({ ...record(text), chatKey: `chat:${text}` })
  const [a, b, c] = (await store.queue.claim(10)) as [ClaimedRecord, ClaimedRecord, ClaimedRecord]
  await store.queue.retry(a, 1, Date.now() + 60000, 'Error: boom')
  await store.queue.bury(b, 3, 'Error: boom')
  await store.queue.release(c)
  t.match(inner.rows, [
    { id: a.id, status: 'pending', attempts: 1, error: 'Error: boom' },
    { id: b.id, status: 'dead', attempts: 3 },
    { id: c.id, status: 'pending', attempts: 0 },
  ])
  const [again] = (await store.queue.claim(10)) as [ClaimedRecord]
  t.same([again].map(unclaimed), [unclaimed(c)], 'released')
  await store.queue.complete(again, 'hook:c')
  t.equal(await store.queue.seen('hook:c'), true)
  t.same(inner.seenKeys, new Set(['hook:c']), 'the key it was given')
  t.equal(store.deadLetters, inner.deadLetters)
  t.equal(store.meta, inner.meta)
  t.equal(store.leases, inner.leases)
  t.match(await store.stats(), { depth: 1, retrying: 1, deadLetters: 1 })
  inner.failing = true
  t.equal(store.unavailable(), 'the store cannot be written', 'its own word on it')
  await store.close()
  await store.close()
  t.equal(closes, 1)
})

t.test('closing before it ever opened stops trying', async (t) => {
  let opens = 0
  const retryMs = 10
  const store = reopeningStore(
    () => {
      opens++
      throw new Error('not yet')
    },
    pino({ level: 'silent' }),
    retryMs,
  )
  await store.close()
  // Timers of one duration fire in the order they were set: the retry, had it been left set, first.
  await new Promise((resolve) => setTimeout(resolve, retryMs))
  t.equal(opens, 1)
})

/** A store that fails its first open and opens a memory store at the second, 10 ms later. */
function opensOnSecondTry(t: Test) {
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
  return { store, opened: async () => (await eventually(() => inner !== null), inner as MemoryStore) }
}

t.test("portals: refused until the store opens, then the opened store's", async (t) => {
  const { store, opened } = opensOnSecondTry(t)
  const portals = store.portals!
  await t.rejects(portals.get('m'), unavailable)
  const inner = await opened()
  const row = { memberId: 'm', domain: 'd.bitrix24.com', clientEndpoint: 'https://d.bitrix24.com/rest/', status: 'active' as const, scope: null, version: null, applicationToken: null, tokens: null, expiresAt: null, installedAt: 1, updatedAt: 1 }
  await portals.put(row)
  t.same(await portals.get('m'), row)
  t.ok(await portals.update('m', { version: '2' }))
  t.same(await portals.list(), [{ ...row, version: '2' }])
  t.same(await inner.portals.get('m'), { ...row, version: '2' }, 'in the opened store')
  t.ok(await portals.delete('m'))
  t.equal(await portals.purge(Date.now()), 0, "the purge is the opened store's too (nothing uninstalled to drop)")
})

t.test("candidate installs: refused until the store opens, then the opened store's", async (t) => {
  const { store, opened } = opensOnSecondTry(t)
  const candidates = store.candidates!
  await t.rejects(candidates.list(), unavailable)
  const inner = await opened()
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
  t.equal(inner.rows.length, 2, 'in the opened store')
  t.match(await inner.portals.get('m'), { status: 'active' })
})
