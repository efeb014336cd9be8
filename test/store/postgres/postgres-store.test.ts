import { pino } from 'pino'
import t from 'tap'
import { postgresStore } from '../../../src/store/postgres/postgres-store.ts'
import { newRecord, sql, testDatabase } from './postgres-fixture.ts'

t.test('the shared store keeps no key file: every replica is given the same secretKey', async (t) => {
  t.match(postgresStore({ connectionString: 'postgres://127.0.0.1:1/none' }), { kind: 'postgres', keyDir: null })
})

t.test('opened by a replica, its claims carry that replica\'s name', async (t) => {
  const connectionString = await testDatabase(t)
  const store = postgresStore({ connectionString, claimTimeoutMs: 60000 }).open({ replica: 'host-1:42:0badcafe', logger: pino({ level: 'silent' }) })
  t.teardown(() => store.close())
  await store.append(newRecord(1, 'hello'))
  t.equal((await store.queue.claim(10)).length, 1)
  t.same(await sql(connectionString, 'SELECT claimed_by FROM b24_inbox'), [{ claimed_by: 'host-1:42:0badcafe' }])
})
