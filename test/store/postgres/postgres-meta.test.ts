import t from 'tap'
import { openPgStore } from './postgres-fixture.ts'

// What every store does with values is in ../store-contract.ts; here, replicas on other hosts.

t.test('values are shared by every replica', async (t) => {
  const a = await openPgStore(t)
  const b = await openPgStore(t, { connectionString: a.connectionString })
  await a.meta.set('poll:im:offset', '41')
  t.equal(await b.meta.get('poll:im:offset'), '41')
  await b.meta.set('poll:im:offset', '42')
  t.equal(await a.meta.get('poll:im:offset'), '42')
})
