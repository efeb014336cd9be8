import type { Test } from 'tap'
import type { NewCandidate } from '../../schemas/portal.ts'
import type { Candidates, Store } from '../../src/store/store.ts'
import { newRecord, textOf } from '../fakes/new-record.ts'
import { eventually } from '../helpers.ts'
import { drain, NONE_NEWER, portalRow, type ContractSubject } from './store-contract.ts'

/** A candidate install as the door stores it: a sealed pair and a hash are plain text here, the store never looks inside. */
export const newCandidate = (memberId: string, extra: Partial<NewCandidate> = {}): NewCandidate => ({
  memberId,
  domain: `${memberId}.bitrix24.com`,
  clientEndpoint: `https://${memberId}.bitrix24.com/rest/`,
  scope: 'imbot,im',
  version: '1',
  applicationToken: `hash-of-${memberId}`,
  tokens: `v1.sealed-${memberId}`,
  expiresAt: 1767229200000,
  receivedAt: 1767225600000,
  ...extra,
})

const BOUNDS = { perPortal: 3, total: 1000 }

/** The store's candidates: every built-in store has them. */
export function candidatesOf(store: Store): Candidates {
  if (!store.candidates) throw new Error('the store keeps no candidate installs')
  return store.candidates
}

const added = async (candidates: Candidates, candidate: NewCandidate, text: string) => {
  const result = await candidates.add(candidate, newRecord(`${candidate.memberId}:1`, text), BOUNDS)
  if (!('id' in result)) throw new Error(`not added: ${result.refused}`)
  return result.id
}

/**
 * What every store does with candidate installs ({@link Candidates}), registered as subtests of
 * `t`: run for SQLite, PostgreSQL and the memory store (`reopen` where a store outlives a restart).
 */
export function candidatesContract(t: Test, subject: Pick<ContractSubject, 'open'> & Partial<Pick<ContractSubject, 'reopen'>>): void {
  const { open, reopen } = subject

  t.test('candidates: one kept whole with its first event, listed by portal and in all, oldest first, here and after a restart', async (t) => {
    const store = await open(t)
    const candidates = candidatesOf(store)
    t.same(await candidates.list(), [])
    t.equal(await candidates.get(1), null)
    const bare = newCandidate('m1', { scope: null, version: null, expiresAt: null, domain: 'forged.example.com' })
    const first = await added(candidates, newCandidate('m1'), 'install 1')
    const second = await added(candidates, bare, 'install 2')
    const other = await added(candidates, newCandidate('m2'), 'install 3')
    t.equal(new Set([first, second, other]).size, 3, 'each its own id')
    t.ok(first < second && second < other, 'ids grow')
    t.strictSame(await candidates.get(first), { id: first, ...newCandidate('m1') })
    t.strictSame(await candidates.get(second), { id: second, ...bare }, 'nulls read back as null')
    t.strictSame(await candidates.of('m1'), [{ id: first, ...newCandidate('m1') }, { id: second, ...bare }])
    t.strictSame(await candidates.of('unknown'), [])
    t.same((await candidates.list()).map((row) => row.id), [first, second, other])
    t.same(await candidates.stats(), { candidates: 3, events: 3 })
    t.same(await drain(store), [], 'their events are not in the inbox')
    t.same(await store.stats(), { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0, newerFormat: NONE_NEWER })
    if (!reopen) return
    await store.close()
    const reopened = candidatesOf(await reopen(t, store))
    t.strictSame(await reopened.of('m1'), [{ id: first, ...newCandidate('m1') }, { id: second, ...bare }], 'after a restart')
    t.same(await reopened.stats(), { candidates: 3, events: 3 })
  })

  t.test('candidates: past a bound, nothing is stored, its event neither', async (t) => {
    const candidates = candidatesOf(await open(t))
    const bounds = { perPortal: 2, total: 3 }
    const add = (memberId: string) => candidates.add(newCandidate(memberId), newRecord(memberId, 'install'), bounds)
    t.match(await add('m1'), { id: Number })
    t.match(await add('m1'), { id: Number })
    t.same(await add('m1'), { refused: 'perPortal' })
    t.match(await add('m2'), { id: Number })
    t.same(await add('m3'), { refused: 'total' })
    t.same(await add('m1'), { refused: 'perPortal' }, 'the portal’s bound is told first')
    t.same(await candidates.stats(), { candidates: 3, events: 3 })
    t.same(await candidates.of('m3'), [])
  })

  t.test('candidates: adds at once cannot pass a bound together', async (t) => {
    const candidates = candidatesOf(await open(t))
    const onePortal = await Promise.all(Array.from({ length: 10 }, (_, i) => candidates.add(newCandidate('m1'), newRecord(i, 'install'), { perPortal: 3, total: 100 })))
    t.equal(onePortal.filter((result) => 'id' in result).length, 3, 'as many as the bound for one portal')
    t.equal((await candidates.of('m1')).length, 3)
    const many = await Promise.all(Array.from({ length: 10 }, (_, i) => candidates.add(newCandidate(`m-${i}`), newRecord(i, 'install'), { perPortal: 3, total: 8 })))
    t.equal(many.filter((result) => 'id' in result).length, 5, 'as many as the bound in all')
    t.same(await candidates.stats(), { candidates: 8, events: 8 })
  })

  t.test('candidates: an event is stored under its candidate until it holds the most allowed; none under one that is gone', async (t) => {
    const candidates = candidatesOf(await open(t))
    const id = await added(candidates, newCandidate('m1'), 'install')
    t.equal(await candidates.append(id, newRecord(1, 'a'), 3), 'stored')
    t.equal(await candidates.append(id, newRecord(1, 'b'), 3), 'stored')
    t.equal(await candidates.append(id, newRecord(1, 'c'), 3), 'full', 'the install counts')
    t.equal(await candidates.append(id + 1000, newRecord(1, 'x'), 3), 'gone')
    t.same(await candidates.stats(), { candidates: 1, events: 3 })
    const other = await added(candidates, newCandidate('m1', { applicationToken: 'hash-2' }), 'install 2')
    const at = await Promise.all(Array.from({ length: 10 }, (_, i) => candidates.append(other, newRecord(2, `n${i}`), 4)))
    t.equal(at.filter((result) => result === 'stored').length, 3, 'appends at once cannot pass the bound together')
    t.same(await candidates.stats(), { candidates: 2, events: 7 })
  })

  t.test('candidates: a confirmed one becomes the portal; its events join the inbox in order, their arrival times kept; it goes', async (t) => {
    const store = await open(t)
    const candidates = candidatesOf(store)
    const real = await added(candidates, newCandidate('m1'), 'install')
    const forged = await added(candidates, newCandidate('m1', { applicationToken: 'hash-forged' }), 'forged install')
    const before = Date.now()
    await candidates.append(real, newRecord('m1:1', 'first'), 1000)
    await candidates.append(forged, newRecord('m1:1', 'forged'), 1000)
    await candidates.append(real, newRecord('m1:2', 'second', { credentials: null, bodyKind: 'form', body: JSON.stringify({ text: 'second' }) }), 1000)
    const after = Date.now()
    let told = 0
    const unsubscribe = store.queue.onAvailable(() => told++)
    t.teardown(unsubscribe)
    const portal = portalRow('m1')
    t.equal(await candidates.confirm(real, portal), true)
    t.strictSame(await store.portals?.get('m1'), portal, 'the portal’s row')
    t.same(await candidates.list().then((rows) => rows.map((row) => row.id)), [forged], 'the other candidate waits')
    t.same(await candidates.stats(), { candidates: 1, events: 2 })
    await eventually(() => told > 0)
    const records = await drain(store)
    t.same(records.map(textOf).sort(), ['first', 'install', 'second'])
    t.same(records.filter((record) => record.chatKey === 'chat:m1:1').map(textOf), ['install', 'first'], 'a chat in the order it came')
    const second = records.find((record) => textOf(record) === 'second')
    t.match(second, { chatKey: 'chat:m1:2', type: 'ONIMV2MESSAGEADD', source: 'webhook', bodyKind: 'form', credentials: null, attempts: 0 })
    const first = records.find((record) => textOf(record) === 'first')
    t.match(first, { credentials: 'sealed-credentials', portal: { memberId: 'member-1' } })
    t.ok((first?.receivedAt as number) >= before - 1 && (first?.receivedAt as number) <= after + 1, 'when it arrived, not when it was confirmed')
    t.equal(await candidates.confirm(real, portal), false, 'once')
  })

  t.test('candidates: confirmed without a portal row leaves the row as it is; a refused one goes with its events only', async (t) => {
    const store = await open(t)
    const candidates = candidatesOf(store)
    const portals = store.portals as NonNullable<Store['portals']>
    await portals.put(portalRow('m1', { status: 'reinstall' }))
    const late = await added(candidates, newCandidate('m1'), 'late install')
    const forged = await added(candidates, newCandidate('m1', { applicationToken: 'hash-forged' }), 'forged install')
    const kept = await added(candidates, newCandidate('m2'), 'other portal')
    await candidates.append(forged, newRecord('m1:1', 'forged event'), 1000)
    t.equal(await candidates.drop(forged), true)
    t.equal(await candidates.drop(forged), false, 'once')
    t.equal(await candidates.append(forged, newRecord('m1:1', 'too late'), 1000), 'gone')
    t.same(await candidates.stats(), { candidates: 2, events: 2 })
    t.equal(await candidates.confirm(late, null), true)
    t.strictSame(await portals.get('m1'), portalRow('m1', { status: 'reinstall' }), 'the row untouched')
    t.same((await drain(store)).map(textOf), ['late install'])
    t.same((await candidates.list()).map((row) => row.id), [kept])
  })

  t.test('candidates: one off its schema, or a confirmation with a portal row off its own, is refused naming no value; nothing changes', async (t) => {
    const store = await open(t)
    const candidates = candidatesOf(store)
    await t.rejects(candidates.add({ ...newCandidate('m1'), tokens: null } as never, newRecord(1, 'x'), BOUNDS), { name: 'TypeError', message: /^not a candidate install/ })
    await t.rejects(candidates.add({ ...newCandidate('m1'), receivedAt: 1.5 }, newRecord(1, 'x'), BOUNDS), { name: 'TypeError' })
    const id = await added(candidates, newCandidate('m1'), 'install')
    await t.rejects(candidates.confirm(id, portalRow('m1', { status: 'pending' } as never)), { name: 'TypeError', message: /^not a portal row/ })
    t.same(await candidates.stats(), { candidates: 1, events: 1 }, 'nothing stored, nothing changed')
    t.equal(await store.portals?.get('m1'), null)
  })
}
