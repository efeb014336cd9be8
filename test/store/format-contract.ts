import type { Test } from 'tap'
import { STORED_FORMAT } from '../../src/store/format.ts'
import type { ClaimedRecord, Portals, Store } from '../../src/store/store.ts'
import { newRecord, textOf } from '../fakes/new-record.ts'
import { eventually } from '../helpers.ts'
import { candidatesOf, newCandidate } from './candidates-contract.ts'
import { claimTexts, drain, NONE_NEWER, portalRow, type ContractSubject } from './store-contract.ts'

/** The tables whose rows carry a format, as both stores name them (PostgreSQL's with `b24_` before). */
export type FormattedTable = 'inbox' | 'candidates' | 'candidate_events' | 'portals' | 'meta' | 'leases'

/** How the format contract gets its stores, and writes as a newer version would. */
export interface FormatSubject extends ContractSubject {
  /**
   * Sets the format of the rows of `table` that `where` (SQL, the store's dialect, no parameters)
   * picks, on the store's storage as another process would: a newer version, or an operator
   * putting a row back as it was.
   */
  setFormat(t: Test, store: Store, table: FormattedTable, where: string, format: number): Promise<void>
}

/** A format this version does not know. */
const NEWER = STORED_FORMAT + 1

const NEWER_FORMAT = { name: 'NewerFormatError', code: 'NEWER_FORMAT', statusCode: 503, format: NEWER, message: /stored by a newer version of b24-receiver \(format 2; this one reads up to 1\): left alone; upgrade this replica$/ }

const portalsOf = (store: Store) => store.portals as Portals

/**
 * What every store does with what a newer version wrote (see src/store/format.ts): it leaves it
 * alone and counts it in its figures. Registered as subtests of `t` by the stores' contract tests.
 */
export function formatContract(t: Test, subject: FormatSubject): void {
  const { open, reopen, setFormat } = subject

  t.test('a record of a newer format is never claimed and holds its chat; the other chats go on; counted', async (t) => {
    const first = await open(t)
    for (const [chat, text] of [[1, 'newer head'], [1, 'after it'], [2, 'b'], [3, 'c'], [3, 'newer behind']] as const) await first.append(newRecord(chat, text))
    await first.close()
    // Written meanwhile by a replica of a newer version; this one opens the store again.
    await setFormat(t, first, 'inbox', "body LIKE '%newer%'", NEWER)
    const store = await reopen(t, first)
    t.same((await drain(store)).map(textOf), ['b', 'c'], 'not the newer head, nor what comes after it in its chat, nor the newer record behind c')
    t.match(await store.stats(), { depth: 3, newerFormat: { ...NONE_NEWER, records: 2 } })
    await store.close()
    // Upgraded (here: the rows put back in this version's format), all of it is handled, in order.
    await setFormat(t, store, 'inbox', "body LIKE '%newer%'", STORED_FORMAT)
    const upgraded = await reopen(t, store)
    t.same((await drain(upgraded)).map(textOf), ['newer head', 'newer behind', 'after it'])
  })

  t.test('dead letters of a newer format are not listed; shown, replayed or dropped by id, each says so and leaves it; counted', async (t) => {
    const store = await open(t)
    await store.append(newRecord(1, 'ours'))
    await store.append(newRecord(2, 'newer'))
    const [ours, newer] = (await store.queue.claim(10)) as [ClaimedRecord, ClaimedRecord]
    await store.queue.bury(ours, 5, 'Error: down')
    await store.queue.bury(newer, 5, 'Error: down')
    await setFormat(t, store, 'inbox', `id = ${newer.id}`, NEWER)
    t.same((await store.deadLetters.list()).map((letter) => letter.id), [ours.id], 'not listed')
    await t.rejects(store.deadLetters.get(newer.id), { ...NEWER_FORMAT, message: new RegExp(`^dead letter ${newer.id} was stored by a newer version`) })
    await t.rejects(store.deadLetters.record(newer.id), NEWER_FORMAT)
    await t.rejects(store.deadLetters.revive(newer.id), NEWER_FORMAT)
    await t.rejects(store.deadLetters.drop(newer.id), NEWER_FORMAT)
    t.match(await store.stats(), { depth: 0, deadLetters: 2, newerFormat: { ...NONE_NEWER, records: 1 } })
    await setFormat(t, store, 'inbox', `id = ${newer.id}`, STORED_FORMAT)
    t.match(await store.deadLetters.get(newer.id), { id: newer.id, attempts: 5, error: 'Error: down', body: { text: 'newer' } }, 'left as it was')
    await store.deadLetters.revive(ours.id)
    t.same(await claimTexts(store), ['ours'], 'one of this version is replayed')
  })

  t.test('portals of a newer format are not listed; read, put, updated or deleted by member, each says so and leaves the row whole; counted', async (t) => {
    const store = await open(t)
    const portals = portalsOf(store)
    await portals.put(portalRow('m1'))
    await portals.put(portalRow('m2'))
    await setFormat(t, store, 'portals', "member_id = 'm2'", NEWER)
    t.same((await portals.list()).map((row) => row.memberId), ['m1'], 'not listed')
    await t.rejects(portals.get('m2'), { ...NEWER_FORMAT, message: /^this event's portal was stored by a newer version/ })
    await t.rejects(portals.put(portalRow('m2', { status: 'reinstall' })), NEWER_FORMAT, 'a reinstall does not overwrite it')
    await t.rejects(portals.update('m2', { status: 'uninstalled' }), NEWER_FORMAT)
    await t.rejects(portals.update('m2', {}), NEWER_FORMAT)
    await t.rejects(portals.delete('m2'), NEWER_FORMAT)
    t.match(await store.stats(), { newerFormat: { ...NONE_NEWER, portals: 1 } })
    await setFormat(t, store, 'portals', "member_id = 'm2'", STORED_FORMAT)
    t.strictSame(await portals.get('m2'), portalRow('m2'), 'left whole')
    t.equal(await portals.update('m1', { status: 'reinstall' }), true, 'the others are changed as ever')
  })

  t.test('the retention leaves dead letters and portals of a newer format alone, however old', async (t) => {
    const store = await open(t)
    const portals = portalsOf(store)
    await store.append(newRecord(1, 'ours'))
    await store.append(newRecord(2, 'newer'))
    const [ours, newer] = (await store.queue.claim(10)) as [ClaimedRecord, ClaimedRecord]
    await store.queue.bury(ours, 5, 'Error: down')
    await store.queue.bury(newer, 5, 'Error: down')
    await setFormat(t, store, 'inbox', `id = ${newer.id}`, NEWER)
    const gone = { status: 'uninstalled' as const, applicationToken: null, tokens: null, expiresAt: null }
    await portals.put(portalRow('m1', gone))
    await portals.put(portalRow('m2', gone))
    await setFormat(t, store, 'portals', "member_id = 'm2'", NEWER)
    t.equal(await store.deadLetters.purge(Date.now() + 60_000, 100), 1, 'only the one of this version')
    t.equal(await portals.purge(Date.now() + 60_000), 1)
    t.same(await portals.list(), [], 'm1 gone')
    await setFormat(t, store, 'inbox', `id = ${newer.id}`, STORED_FORMAT)
    await setFormat(t, store, 'portals', "member_id = 'm2'", STORED_FORMAT)
    t.same((await store.deadLetters.list()).map((letter) => letter.id), [newer.id], 'left as it was')
    t.strictSame(await portals.get('m2'), portalRow('m2', gone))
  })

  t.test('named values and leases of a newer format are neither read nor overwritten, nor taken, held or given up; counted', async (t) => {
    const store = await open(t)
    await store.meta.set('poll:im', '12')
    await store.meta.set('other', 'x')
    t.equal(await store.leases.lease('poll:im', 'replica-a', 60000), true)
    await setFormat(t, store, 'meta', "key = 'poll:im'", NEWER)
    await setFormat(t, store, 'leases', "name = 'poll:im'", NEWER)
    await t.rejects(store.meta.get('poll:im'), { ...NEWER_FORMAT, message: /^the value poll:im was stored by a newer version/ }, 'not read (nor taken for no offset)')
    await t.rejects(store.meta.set('poll:im', '13'), NEWER_FORMAT, 'not overwritten')
    t.equal(await store.meta.get('other'), 'x', 'the others are read as ever')
    await t.rejects(store.leases.lease('poll:im', 'replica-a', 60000), { ...NEWER_FORMAT, message: /^the lease poll:im was stored by a newer version/ }, 'not renewed')
    await t.rejects(store.leases.lease('poll:im', 'replica-b', 60000), NEWER_FORMAT, 'not taken')
    t.equal(await store.leases.holder('poll:im'), null, 'its holder unknown here')
    await store.leases.unlease('poll:im', 'replica-a')
    t.match(await store.stats(), { newerFormat: { ...NONE_NEWER, values: 2 } })
    await setFormat(t, store, 'meta', "key = 'poll:im'", STORED_FORMAT)
    await setFormat(t, store, 'leases', "name = 'poll:im'", STORED_FORMAT)
    t.equal(await store.meta.get('poll:im'), '12', 'left as it was')
    t.equal(await store.leases.holder('poll:im'), 'replica-a', 'not given up')
  })

  t.test('candidates of a newer format are not listed; read, added to, confirmed or dropped by id, each says so and leaves it; counted', async (t) => {
    const store = await open(t)
    const candidates = candidatesOf(store)
    const bounds = { perPortal: 2, total: 1000 }
    const add = async (memberId: string) => ((await candidates.add(newCandidate(memberId), newRecord(`${memberId}:1`, `install ${memberId}`), bounds)) as { id: number }).id
    const ours = await add('m1')
    const newer = await add('m2')
    await setFormat(t, store, 'candidates', `id = ${newer}`, NEWER)
    t.same((await candidates.list()).map((row) => row.id), [ours], 'not listed')
    t.same(await candidates.of('m2'), [], 'nor among its portal’s')
    await t.rejects(candidates.get(newer), { ...NEWER_FORMAT, message: new RegExp(`^pending install ${newer} was stored by a newer version`) })
    await t.rejects(candidates.append(newer, newRecord('m2:1', 'more'), 10), NEWER_FORMAT)
    await t.rejects(candidates.confirm(newer, portalRow('m2')), NEWER_FORMAT)
    await t.rejects(candidates.drop(newer), NEWER_FORMAT)
    t.same(await candidates.add(newCandidate('m2', { applicationToken: 'hash-2' }), newRecord('m2:1', 'x'), { perPortal: 1, total: 1000 }), { refused: 'perPortal' }, 'it still counts towards the bounds')
    t.match(await store.stats(), { newerFormat: { ...NONE_NEWER, candidates: 1 } })
    t.equal(await portalsOf(store).get('m2'), null, 'nothing confirmed')
    await setFormat(t, store, 'candidates', `id = ${newer}`, STORED_FORMAT)
    t.match(await candidates.get(newer), { id: newer, memberId: 'm2' }, 'left as it was')
    t.same(await candidates.stats(), { candidates: 2, events: 2 }, 'its event too')
    t.equal(await candidates.confirm(ours, portalRow('m1')), true, 'one of this version is confirmed')
    t.same((await drain(store)).map(textOf), ['install m1'])
  })

  t.test('a candidate is not confirmed over a portal row of a newer format; the events of a newer format it holds wait in the inbox', async (t) => {
    const store = await open(t)
    const candidates = candidatesOf(store)
    const bounds = { perPortal: 5, total: 1000 }
    const id = ((await candidates.add(newCandidate('m1'), newRecord('m1:1', 'install'), bounds)) as { id: number }).id
    await candidates.append(id, newRecord('m1:1', 'newer event'), 10)
    await candidates.append(id, newRecord('m1:2', 'other chat'), 10)
    await setFormat(t, store, 'candidate_events', "body LIKE '%newer%'", NEWER)
    t.match(await store.stats(), { newerFormat: { ...NONE_NEWER, records: 1 } }, 'counted while held')
    await portalsOf(store).put(portalRow('m1', { status: 'reinstall' }))
    await setFormat(t, store, 'portals', "member_id = 'm1'", NEWER)
    await t.rejects(candidates.confirm(id, portalRow('m1')), NEWER_FORMAT)
    t.same((await candidates.list()).map((row) => row.id), [id], 'still waiting')
    t.same(await drain(store), [], 'its events too')
    let told = 0
    store.queue.onAvailable(() => told++)
    t.equal(await candidates.confirm(id, null), true, 'confirmed, the row left to the newer version')
    // Its events are in the inbox once the queue says so (PostgreSQL's, by the notification).
    await eventually(() => told > 0)
    t.same((await drain(store)).map(textOf), ['install', 'other chat'], 'the event of a newer format is not handed out: it holds its chat')
    t.match(await store.stats(), { depth: 1, newerFormat: { ...NONE_NEWER, records: 1, portals: 1 } })
  })
}
