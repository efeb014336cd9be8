import pg from 'pg'
import t, { type Test } from 'tap'
import { checkedOut } from '../../../src/store/postgres/checked-out.ts'
import { eventually } from '../../helpers.ts'
import { testDatabase } from './postgres-fixture.ts'

/** A pool of one connection, as the store's: an idle connection that breaks is only dropped. */
async function poolOf(t: Test) {
  const created = new pg.Pool({ connectionString: await testDatabase(t), max: 1 })
  created.on('error', () => undefined)
  t.teardown(() => created.end())
  return created
}

t.test('runs work on a pooled connection and gives it back', async (t) => {
  const pool = await poolOf(t)
  t.same(await checkedOut(pool, async (client) => (await client.query('SELECT 1 AS one')).rows), [{ one: 1 }])
  t.equal(pool.idleCount, 1, 'back in the pool')
  await t.rejects(checkedOut(pool, async () => Promise.reject(new Error('failed'))), { message: 'failed' })
  t.equal(pool.idleCount, 1, 'back after a failure too')
})

t.test('a connection lost while taken out fails its query, crashes nothing, and is dropped from the pool', async (t) => {
  const pool = await poolOf(t)
  await t.rejects(
    checkedOut(pool, async (client) => {
      await client.query('SELECT pg_terminate_backend(pg_backend_pid())')
    }),
    { message: /terminat/ },
  )
  await eventually(() => pool.totalCount === 0)
  t.same(await checkedOut(pool, async (client) => (await client.query('SELECT 2 AS two')).rows), [{ two: 2 }], 'the next one connects again')
})
