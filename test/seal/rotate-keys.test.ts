import t, { type Test } from 'tap'
import { CHECK_KEY, checkSealKey } from '../../src/seal/check-seal-key.ts'
import { DIGEST_KEY } from '../../src/seal/digest-key.ts'
import { MAX_PASSES, rotateKeys, unfinishedReason } from '../../src/seal/rotate-keys.ts'
import type { SealedColumn, SealedValues } from '../../src/store/sealed-values.ts'
import { createSealer, digestKeyOf } from '../../src/seal/sealer.ts'
import { openDatabase } from '../../src/store/sqlite/open-database.ts'
import { SqliteSealedValues } from '../../src/store/sqlite/sqlite-sealed-values.ts'
import type { Store } from '../../src/store/store.ts'
import { newRecord } from '../fakes/new-record.ts'
import { candidatesOf, newCandidate } from '../store/candidates-contract.ts'
import { openStore } from '../store/sqlite/sqlite-fixture.ts'
import { portalRow } from '../store/store-contract.ts'

// The rotation itself, on the embedded store (both stores' sealed values: test/store/*/…-sealed-values.test.ts;
// the command on both stores, killed and run again: test/commands/keys.test.ts).

const OLD = Buffer.alloc(32, 1)
const NEW = Buffer.alloc(32, 2)
const old = createSealer(OLD)
const rotating = createSealer(NEW, { previous: [OLD] })
const KEYS = [NEW, OLD]
const COLUMNS: SealedColumn[] = ['pendingInstalls', 'pendingEvents', 'portals', 'inbox']

/** A store sealed under OLD holding `events` records, 3 portals, and a pending install with its event. */
async function sealedStore(t: Test, events = 10) {
  const store = openStore(t)
  await checkSealKey(store, old)
  for (let i = 1; i <= events; i++) await store.append(newRecord(i, `m${i}`, { credentials: old.seal(`credentials ${i}`) }))
  for (const id of ['p1', 'p2', 'p3']) await (store.portals as NonNullable<Store['portals']>).put(portalRow(id, { tokens: old.seal(`tokens ${id}`) }))
  await candidatesOf(store).add(newCandidate('p4', { tokens: old.seal('tokens p4') }), newRecord('p4:1', 'install', { credentials: old.seal('credentials install') }), { perPortal: 3, total: 10 })
  const db = openDatabase(store.dataDir)
  t.teardown(() => db.close())
  return { store, values: new SqliteSealedValues(db) }
}

/** Every sealed value of the store, opened with NEW alone (throws for one it cannot open). */
async function openedWithNewKey(values: SealedValues): Promise<string[]> {
  const sealer = createSealer(NEW)
  const all: string[] = []
  for (const column of COLUMNS) for (const { value } of await values.page(column, null, 1000)) all.push(sealer.open(value))
  return all.sort()
}

t.test('every stored credential and token sealed again under the new key; the store marked; the digest key kept', async (t) => {
  const { store, values } = await sealedStore(t)
  const progress: string[] = []
  const rotation = await rotateKeys({ store, values, sealer: rotating, keys: KEYS, batchSize: 3, progress: (column, count, pass) => void progress.push(`${pass} ${column} ${count.seen}`) })
  t.equal(rotation.done, true)
  t.equal(rotation.late, 0)
  t.equal(rotation.passes, 2, 'a second pass finds nothing left')
  t.same(rotation.columns.inbox, { seen: 20, resealed: 10, changed: 0, unreadable: 0 }, 'looked at twice, sealed again once')
  t.same(rotation.columns.portals, { seen: 6, resealed: 3, changed: 0, unreadable: 0 })
  t.same(rotation.columns.pendingInstalls.resealed + rotation.columns.pendingEvents.resealed, 2)
  t.same(
    await openedWithNewKey(values),
    ['credentials 1', 'credentials 10', 'credentials 2', 'credentials 3', 'credentials 4', 'credentials 5', 'credentials 6', 'credentials 7', 'credentials 8', 'credentials 9', 'credentials install', 'tokens p1', 'tokens p2', 'tokens p3', 'tokens p4'],
  )
  t.equal(await checkSealKey(store, createSealer(NEW)), 0, 'the new key alone opens the store')
  await t.rejects(checkSealKey(store, old), { name: 'ConfigError' }, 'the old key alone no more')
  t.equal(createSealer(NEW).open((await store.meta.get(DIGEST_KEY)) as string), digestKeyOf(OLD).toString('hex'), 'application tokens still hash the same')
  t.same(progress.slice(0, 4), ['1 pendingInstalls 1', '1 pendingEvents 1', '1 portals 3', '1 inbox 3'], 'after each batch')
  const again = await rotateKeys({ store, values, sealer: rotating, keys: KEYS })
  t.equal(again.done, true)
  t.equal(COLUMNS.reduce((sum, column) => sum + again.columns[column].resealed, 0), 0, 'run again: nothing to do')
})

t.test('interrupted between batches, run again: it finishes, nothing half-written', async (t) => {
  const { store, values } = await sealedStore(t, 50)
  let batches = 0
  const failing: SealedValues = {
    page: (column, after, limit) => values.page(column, after, limit),
    replace: async (column, replacements) => {
      if (column === 'inbox' && ++batches === 3) throw new Error('killed')
      return values.replace(column, replacements)
    },
  }
  await t.rejects(rotateKeys({ store, values: failing, sealer: rotating, keys: KEYS, batchSize: 10 }), { message: 'killed' })
  const inbox = await values.page('inbox', null, 100)
  t.same(inbox.map(({ value }) => rotating.keyOf(value)), [...Array(20).fill(0), ...Array(30).fill(1)], 'two batches under the new key, the rest as it was')
  t.equal(await checkSealKey(store, old), 0, 'not marked: the old key alone still opens the store')
  const rotation = await rotateKeys({ store, values, sealer: rotating, keys: KEYS, batchSize: 10 })
  t.equal(rotation.done, true)
  t.equal(rotation.columns.inbox.resealed, 30, 'only what was left')
  t.equal((await openedWithNewKey(values)).length, 55)
})

t.test('a row a replica changed or completed meanwhile is left as the replica wrote it', async (t) => {
  const { store, values } = await sealedStore(t, 3)
  const refreshed = rotating.seal('tokens p2, refreshed')
  let once = false
  const busy: SealedValues = {
    page: async (column, after, limit) => {
      const page = await values.page(column, after, limit)
      if (column === 'portals' && !once) {
        once = true
        // Between the read and the write: a refresh on one portal (under the new key), an event handled.
        await (store.portals as NonNullable<Store['portals']>).update('p2', { tokens: refreshed })
        const [claimed] = await store.queue.claim(1)
        await store.queue.complete(claimed as NonNullable<typeof claimed>, null)
      }
      return page
    },
    replace: (column, replacements) => values.replace(column, replacements),
  }
  const rotation = await rotateKeys({ store, values: busy, sealer: rotating, keys: KEYS })
  t.equal(rotation.done, true)
  t.same(rotation.columns.portals, { seen: 6, resealed: 2, changed: 1, unreadable: 0 })
  t.equal((await (store.portals as NonNullable<Store['portals']>).get('p2'))?.tokens, refreshed, 'the refresh stands')
  t.equal((await values.page('inbox', null, 10)).length, 2, 'the handled record is not brought back')
})

t.test('a process still sealing with the old key meanwhile: the store is not marked, and what it wrote stays readable', async (t) => {
  const { store, values } = await sealedStore(t, 2)
  let written = 0
  const withOldReplica: SealedValues = {
    page: async (column, after, limit) => {
      // A replica given only the old key stores an event now and then.
      if (column === 'inbox' && after === null) await store.append(newRecord(100 + ++written, 'late', { credentials: old.seal(`late ${written}`) }))
      return values.page(column, after, limit)
    },
    replace: (column, replacements) => values.replace(column, replacements),
  }
  const rotation = await rotateKeys({ store, values: withOldReplica, sealer: rotating, keys: KEYS })
  t.equal(rotation.done, false)
  t.equal(rotation.passes, MAX_PASSES)
  t.equal(rotation.late, 1)
  t.match(unfinishedReason(rotation.late, 0), /^the store is not marked sealed under B24_SECRET_KEY, keep B24_SECRET_KEY_PREVIOUS: 1 value\(s\) sealed under a previous key were written while it ran: a replica still seals with an old key/)
  t.equal(await checkSealKey(store, old), 0, 'the old key still opens the store: the old replica may restart')
  t.equal(await checkSealKey(store, rotating), 1)
  const inbox = await values.page('inbox', null, 100)
  t.same(inbox.map(({ value }) => rotating.open(value)).sort(), ['credentials 1', 'credentials 2', 'late 1', 'late 2', 'late 3'], 'nothing lost')
})

t.test('a value an old replica writes again under the old key between each read and write: the store is not marked', async (t) => {
  const { store, values } = await sealedStore(t, 1)
  let refreshes = 0
  const racing: SealedValues = {
    page: (column, after, limit) => values.page(column, after, limit),
    replace: async (column, replacements) => {
      if (column !== 'portals' || !replacements.some(({ key }) => key === 'p2')) return values.replace(column, replacements)
      // A replica given only the old key refreshes p2 after each write, and after the first pass just before each write too.
      const refresh = () => (store.portals as NonNullable<Store['portals']>).update('p2', { tokens: old.seal(`tokens p2, refresh ${++refreshes}`) })
      if (refreshes > 0) await refresh()
      const written = await values.replace(column, replacements)
      await refresh()
      return written
    },
  }
  const rotation = await rotateKeys({ store, values: racing, sealer: rotating, keys: KEYS })
  t.equal(rotation.done, false, 'not marked: p2 is under the old key')
  t.equal(rotation.late, 1)
  t.equal(rotation.passes, MAX_PASSES)
  t.equal(rotation.columns.portals.changed, 2, 'the first pass wrote p2, the next two found it changed under the old key')
  t.equal(await checkSealKey(store, old), 0, 'the old key still opens the store')
  t.match(old.open((await (store.portals as NonNullable<Store['portals']>).get('p2'))?.tokens as string), /^tokens p2, refresh/)
})

t.test('a value no key opens: left as it is, the store not marked', async (t) => {
  const { store, values } = await sealedStore(t, 1)
  await store.append(newRecord(9, 'foreign', { credentials: createSealer(Buffer.alloc(32, 9)).seal('foreign') }))
  const rotation = await rotateKeys({ store, values, sealer: rotating, keys: KEYS })
  t.equal(rotation.done, false)
  t.equal(rotation.late, 0)
  t.equal(rotation.columns.inbox.unreadable, 1, 'counted once, not once a pass')
  t.equal(await checkSealKey(store, old), 0)
})

t.test('keys that open nothing in the store: refused before anything is written', async (t) => {
  const { store, values } = await sealedStore(t, 1)
  await t.rejects(rotateKeys({ store, values, sealer: createSealer(NEW, { previous: [Buffer.alloc(32, 9)] }), keys: [NEW, Buffer.alloc(32, 9)] }), { name: 'ConfigError', message: /^none of the keys given opens this store/ })
  t.equal(await store.meta.get(DIGEST_KEY), null)
  t.equal(old.open((await store.meta.get(CHECK_KEY)) as string), 'b24-receiver')
})

t.test('a store never started: nothing to seal again, marked under the new key', async (t) => {
  const store = openStore(t)
  const db = openDatabase(store.dataDir)
  t.teardown(() => db.close())
  const rotation = await rotateKeys({ store, values: new SqliteSealedValues(db), sealer: rotating, keys: KEYS })
  t.equal(rotation.done, true)
  t.equal(await checkSealKey(store, createSealer(NEW)), 0)
})

t.test('a failure other than a seal that does not open stops the rotation: nothing is counted unreadable for it', async (t) => {
  const { store, values } = await sealedStore(t, 1)
  const failing = Object.create(rotating, { reseal: { value: () => { throw new TypeError('not a seal error') } } }) as typeof rotating
  await t.rejects(rotateKeys({ store, values, sealer: failing, keys: KEYS }), { name: 'TypeError', message: 'not a seal error' })
})
