import t from 'tap'
import type { Portals } from '../../../src/store/store.ts'
import { portalRow } from '../store-contract.ts'
import { claimTexts, newRecord, openStore, otherConnection } from './sqlite-fixture.ts'

// What every store does with portals is in ../store-contract.ts; here, the table as another
// process (`portals list`, a sqlite3 shell) reads it, and the group commit it is written in.

const COLUMNS = 'member_id, domain, client_endpoint, status, scope, version, application_token, tokens, expires_at, installed_at, updated_at'

t.test('a portal is one row of the portals table, each field in its column as given', async (t) => {
  const store = openStore(t)
  const portals = store.portals as Portals
  await portals.put(portalRow('a1b2', { tokens: 'v1.sealed', applicationToken: 'hmac-hex', version: null }))
  const db = otherConnection(t, store.dataDir)
  t.strictSame(db.prepare(`SELECT ${COLUMNS} FROM portals`).all(), [
    {
      member_id: 'a1b2',
      domain: 'a1b2.bitrix24.com',
      client_endpoint: 'https://a1b2.bitrix24.com/rest/',
      status: 'active',
      scope: 'imbot,im',
      version: null,
      application_token: 'hmac-hex',
      tokens: 'v1.sealed',
      expires_at: 1767229200000,
      installed_at: 1767225600000,
      updated_at: 1767225600123,
    },
  ])
  t.strictSame(
    db.prepare('SELECT typeof(expires_at) AS expires, typeof(installed_at) AS installed, typeof(updated_at) AS updated FROM portals').get(),
    { expires: 'integer', installed: 'integer', updated: 'integer' },
    'times as integers',
  )
  t.throws(() => db.prepare(`INSERT INTO portals (${COLUMNS}) VALUES ('x', 'd', 'e', 'gone', NULL, NULL, NULL, NULL, NULL, 1, 1)`).run(), /CHECK constraint failed/, 'the table itself refuses an unknown status')
})

t.test('written in the group commit: a put, updates and a delete of one turn go in order, with the appends of that turn', async (t) => {
  const store = openStore(t)
  const portals = store.portals as Portals
  const row = portalRow('m1')
  const results = await Promise.all([
    portals.update('m1', {}),
    store.append(newRecord(1, 'appended')),
    portals.put(row),
    portals.update('m1', {}),
    portals.update('m1', { version: '4' }),
    portals.update('m1', { version: '5', tokens: null }),
    portals.update('m1', { version: '6' }),
    portals.put(portalRow('m2')),
    portals.delete('m2'),
  ])
  t.strictSame(results, [false, undefined, undefined, true, true, true, true, undefined, true], 'each sees what was written before it')
  t.strictSame(await portals.list(), [{ ...row, version: '6', tokens: null }])
  t.same(await claimTexts(store), ['appended'])
})

t.test('a row the table would refuse fails only itself, not the events appended in the same turn', async (t) => {
  const store = openStore(t)
  const portals = store.portals as Portals
  const [appended, put] = await Promise.allSettled([store.append(newRecord(1, 'kept')), portals.put({ ...portalRow('m1'), status: 'gone' } as never)])
  t.equal(appended.status, 'fulfilled')
  t.match(put, { status: 'rejected', reason: { name: 'TypeError' } })
  t.equal(store.unavailable(), null, 'the store is writable all along')
  t.same(await claimTexts(store), ['kept'])
  t.equal(await portals.get('m1'), null)
})
