import type { Test } from 'tap'
import type { SealedValues } from '../../src/store/sealed-values.ts'
import type { Store } from '../../src/store/store.ts'
import { newRecord } from '../fakes/new-record.ts'
import { candidatesOf, newCandidate } from './candidates-contract.ts'
import { portalRow } from './store-contract.ts'

/** How the contract gets a store, its sealed values, and raw SQL on its tables (PostgreSQL's names prefixed). */
export interface SealedValuesSubject {
  open(t: Test): Promise<{ store: Store; values: SealedValues; exec: (sql: string) => Promise<void>; table: (name: string) => string }>
}

const BOUNDS = { perPortal: 3, total: 1000 }

/** What both stores' sealed values do (../../src/seal/rotate-keys.ts `SealedValues`), registered as subtests of `t`. */
export function sealedValuesContract(t: Test, subject: SealedValuesSubject): void {
  t.test('pages through each column in key order, after a key, skipping rows without a value', async (t) => {
    const { store, values } = await subject.open(t)
    for (let i = 1; i <= 5; i++) await store.append(newRecord(i, `m${i}`, { credentials: i === 3 ? null : `v1.c${i}` }))
    t.same(await values.page('inbox', null, 2), [{ key: 1, value: 'v1.c1' }, { key: 2, value: 'v1.c2' }])
    t.same(await values.page('inbox', 2, 2), [{ key: 4, value: 'v1.c4' }, { key: 5, value: 'v1.c5' }], 'no credentials: not a sealed value')
    t.same(await values.page('inbox', 5, 2), [])
    const portals = store.portals as NonNullable<Store['portals']>
    // Byte order, whatever the database's collation: upper case before lower case.
    for (const id of ['b', 'a', 'B', 'c']) await portals.put(portalRow(id, { tokens: id === 'c' ? null : `v1.t-${id}` }))
    t.same(await values.page('portals', null, 10), [{ key: 'B', value: 'v1.t-B' }, { key: 'a', value: 'v1.t-a' }, { key: 'b', value: 'v1.t-b' }])
    t.same(await values.page('portals', 'a', 10), [{ key: 'b', value: 'v1.t-b' }])
    const added = await candidatesOf(store).add(newCandidate('m1', { tokens: 'v1.pending' }), newRecord('m1:1', 'install', { credentials: 'v1.install' }), BOUNDS)
    const id = (added as { id: number }).id
    t.same(await values.page('pendingInstalls', null, 10), [{ key: id, value: 'v1.pending' }])
    t.same(await values.page('pendingEvents', null, 10), [{ key: 1, value: 'v1.install' }])
  })

  t.test('replaces a batch, each value only where its row still holds what was read', async (t) => {
    const { store, values, exec, table } = await subject.open(t)
    for (let i = 1; i <= 3; i++) await store.append(newRecord(i, `m${i}`, { credentials: `v1.c${i}` }))
    // Meanwhile a replica handled record 2 (gone), and record 3 holds another value.
    await exec(`DELETE FROM ${table('inbox')} WHERE id = 2`)
    await exec(`UPDATE ${table('inbox')} SET credentials = 'v1.newer' WHERE id = 3`)
    const written = await values.replace('inbox', [
      { key: 1, from: 'v1.c1', value: 'v1.n1' },
      { key: 2, from: 'v1.c2', value: 'v1.n2' },
      { key: 3, from: 'v1.c3', value: 'v1.n3' },
    ])
    t.equal(written, 1)
    t.same(await values.page('inbox', null, 10), [{ key: 1, value: 'v1.n1' }, { key: 3, value: 'v1.newer' }], 'nothing brought back, nothing newer overwritten')
    const portals = store.portals as NonNullable<Store['portals']>
    await portals.put(portalRow('p1', { tokens: 'v1.old' }))
    t.equal(await values.replace('portals', [{ key: 'p1', from: 'v1.old', value: 'v1.new' }]), 1)
    t.equal((await portals.get('p1'))?.tokens, 'v1.new')
    t.equal(await values.replace('portals', [{ key: 'p1', from: 'v1.old', value: 'v1.again' }]), 0, 'a refresh in between wins')
  })

  t.test('rows a newer version wrote are neither read nor written', async (t) => {
    const { store, values, exec, table } = await subject.open(t)
    await store.append(newRecord(1, 'm1', { credentials: 'v1.c1' }))
    await exec(`UPDATE ${table('inbox')} SET format = 99`)
    t.same(await values.page('inbox', null, 10), [])
    t.equal(await values.replace('inbox', [{ key: 1, from: 'v1.c1', value: 'v1.n1' }]), 0)
  })
}
