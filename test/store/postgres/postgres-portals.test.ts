import t, { type Test } from 'tap'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { PostgresPortals } from '../../../src/store/postgres/postgres-portals.ts'
import { portalRow } from '../store-contract.ts'
import { sql, testDatabase } from './postgres-fixture.ts'

// What every store does with portals is in ../store-contract.ts; here, the table as an operator's
// psql reads it, and replicas writing the same portal.

const COLUMNS = 'member_id, domain, client_endpoint, status, scope, version, application_token, tokens, expires_at, installed_at, updated_at'

async function twoReplicas(t: Test) {
  const url = await testDatabase(t)
  const portals = () => {
    const db = new PostgresDatabase({ connectionString: url })
    t.teardown(() => db.end())
    return new PostgresPortals(db)
  }
  return { url, a: portals(), b: portals() }
}

t.test('a portal is one row of b24_portals, each field in its column as given, times as bigint', async (t) => {
  const { url, a } = await twoReplicas(t)
  await a.put(portalRow('a1b2', { tokens: 'v1.sealed', applicationToken: 'hmac-hex', version: null }))
  t.strictSame(await sql(url, `SELECT ${COLUMNS} FROM b24_portals`), [
    {
      member_id: 'a1b2',
      domain: 'a1b2.bitrix24.com',
      client_endpoint: 'https://a1b2.bitrix24.com/rest/',
      status: 'active',
      scope: 'imbot,im',
      version: null,
      application_token: 'hmac-hex',
      tokens: 'v1.sealed',
      // node-postgres reads int8 as text unless told otherwise (the store tells it).
      expires_at: '1767229200000',
      installed_at: '1767225600000',
      updated_at: '1767225600123',
    },
  ])
  await t.rejects(sql(url, `INSERT INTO b24_portals (${COLUMNS}) VALUES ('x', 'd', 'e', 'gone', NULL, NULL, NULL, NULL, NULL, 1, 1)`), { message: /check constraint/ }, 'the table itself refuses an unknown status')
})

t.test('replicas updating one portal at once: each changes its fields, neither writes back the other’s', async (t) => {
  const { a, b } = await twoReplicas(t)
  const row = portalRow('m1')
  await a.put(row)
  t.strictSame(await b.get('m1'), row, 'what one replica stored, another reads')
  // A refresh on one replica, a version update on the other.
  const results = await Promise.all([a.update('m1', { tokens: 'v1.refreshed', expiresAt: 1767232800000 }), b.update('m1', { version: '4', updatedAt: 1767229300000 })])
  t.strictSame(results, [true, true])
  t.strictSame(await a.get('m1'), { ...row, tokens: 'v1.refreshed', expiresAt: 1767232800000, version: '4', updatedAt: 1767229300000 })
  t.equal(await b.delete('m1'), true)
  t.equal(await a.delete('m1'), false, 'deleted once, whichever replica asks')
})
