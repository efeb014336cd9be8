import t, { type Test } from 'tap'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { PostgresLeases } from '../../../src/store/postgres/postgres-leases.ts'
import { eventually } from '../../helpers.ts'
import { dbNow, sql, testDatabase } from './postgres-fixture.ts'

// What every store does with leases is in ../store-contract.ts; here, replicas on other hosts.

async function twoReplicas(t: Test) {
  const url = await testDatabase(t)
  const leases = () => {
    const db = new PostgresDatabase({ connectionString: url })
    t.teardown(() => db.pool.end())
    return new PostgresLeases(db)
  }
  return { url, a: leases(), b: leases() }
}

t.test('a lease is one replica’s until it expires by the database’s clock; holder() tells whose', async (t) => {
  const { url, a, b } = await twoReplicas(t)
  t.equal(await a.holder('poll:im'), null, 'nobody yet')
  const before = await dbNow(url)
  t.equal(await a.lease('poll:im', 'replica-a', 400), true)
  const after = await dbNow(url)
  t.equal(await b.lease('poll:im', 'replica-b', 60000), false)
  t.equal(await b.holder('poll:im'), 'replica-a', 'the other replica sees who reads')
  const [row] = (await sql<{ expires: string }>(url, 'SELECT expires_at AS expires FROM b24_leases')) as [{ expires: string }]
  t.ok(Number(row.expires) >= before + 400 && Number(row.expires) <= after + 400, `until 400 ms from when it was taken, on the database clock (${before}, ${row.expires}, ${after})`)
  await eventually(async () => (await b.holder('poll:im')) === null)
  t.ok((await dbNow(url)) >= Number(row.expires), 'expired: nobody holds it')
  t.equal(await b.lease('poll:im', 'replica-b', 60000), true, 'taken over')
  t.equal(await a.holder('poll:im'), 'replica-b')
  t.equal(await a.lease('poll:im', 'replica-a', 60000), false, 'the one before is refused now')
  await a.unlease('poll:im', 'replica-a')
  t.equal(await a.holder('poll:im'), 'replica-b', 'nor can it give up what it no longer holds')
  await b.unlease('poll:im', 'replica-b')
  t.equal(await a.holder('poll:im'), null)
})

t.test('replicas racing for a lease: exactly one gets it', async (t) => {
  const { a, b } = await twoReplicas(t)
  for (let i = 0; i < 20; i++) {
    const won = await Promise.all([a.lease(`poll:${i}`, 'replica-a', 60000), b.lease(`poll:${i}`, 'replica-b', 60000)])
    t.equal(won.filter(Boolean).length, 1, `lease ${i}: ${won}`)
  }
})
