import t from 'tap'
import { MIGRATIONS } from '../../../src/store/postgres/migrations.ts'
import { candidatesOf } from '../candidates-contract.ts'
import { drain, portalRow } from '../store-contract.ts'
import { openPgStore, sql, testDatabase, textOf } from './postgres-fixture.ts'

// A release before candidates kept an unconfirmed install as a `pending` row of `b24_portals`, its
// events waiting in the inbox: opened by this one, it is a candidate with those events, in order.

const PORTAL_COLUMNS = 'member_id, domain, client_endpoint, status, scope, version, application_token, tokens, expires_at, installed_at, updated_at'
const portalJson = (memberId: string) => JSON.stringify({ domain: `${memberId}.bitrix24.com`, memberId, clientEndpoint: null })

t.test('an install an earlier release kept pending becomes a candidate, with the events of its portal that waited; the rest stays', async (t) => {
  const url = await testDatabase(t)
  await sql(url, 'CREATE TABLE b24_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
  for (const [i, migration] of MIGRATIONS.slice(0, 2).entries()) {
    await sql(url, migration)
    await sql(url, `INSERT INTO b24_migrations (version) VALUES (${i + 1})`)
  }
  const portal = `INSERT INTO b24_portals (${PORTAL_COLUMNS}) VALUES ($1, $2, $3, $4, 'imbot', '2', $5, $6, 1767229200000, $7, $7)`
  await sql(url, portal, ['active-1', 'active-1.bitrix24.com', 'https://active-1.bitrix24.com/rest/', 'active', 'hash-a', 'v1.sealed-a', 1767225600000])
  await sql(url, portal, ['pending-1', 'pending-1.bitrix24.com', 'https://pending-1.bitrix24.com/rest/', 'pending', 'hash-p', 'v1.sealed-p', 1767225700000])
  const event = `INSERT INTO b24_inbox (status, chat_key, type, source, received_at, next_at, attempts, portal_json, body_kind, body, credentials)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'payload', $9, $10)`
  await sql(url, event, ['pending', 'chat:p:1', 'ONAPPINSTALL', 'webhook', 1000, 1000, 4, portalJson('pending-1'), '{"text":"install"}', 'sealed-1'])
  await sql(url, event, ['pending', 'chat:a:1', 'ONIMV2MESSAGEADD', 'webhook', 1100, 1100, 0, portalJson('active-1'), '{"text":"active event"}', 'sealed-2'])
  await sql(url, event, ['pending', 'chat:p:1', 'ONIMV2MESSAGEADD', 'webhook', 1200, 9000, 2, portalJson('pending-1'), '{"text":"pending event"}', null])
  await sql(url, event, ['dead', 'chat:p:2', 'ONIMV2MESSAGEADD', 'webhook', 1300, 1300, 8, portalJson('pending-1'), '{"text":"dead letter"}', 'sealed-4'])
  await sql(url, event, ['pending', 'chat:p:3', 'ONIMV2MESSAGEADD', 'poll', 1400, 1400, 0, portalJson('pending-1'), '{"text":"polled"}', null])

  const store = await openPgStore(t, { connectionString: url })
  const candidates = candidatesOf(store)
  const [candidate, ...others] = await candidates.list()
  t.same(others, [])
  t.strictSame(candidate, {
    id: candidate?.id,
    memberId: 'pending-1',
    domain: 'pending-1.bitrix24.com',
    clientEndpoint: 'https://pending-1.bitrix24.com/rest/',
    scope: 'imbot',
    version: '2',
    applicationToken: 'hash-p',
    tokens: 'v1.sealed-p',
    expiresAt: 1767229200000,
    receivedAt: 1767225700000,
  })
  t.same(await candidates.stats(), { candidates: 1, events: 2 }, 'its events, polled ones and dead letters aside')
  t.same((await store.portals?.list())?.map((row) => row.memberId), ['active-1'], 'b24_portals holds confirmed installs only')
  t.same((await store.deadLetters.list()).map((letter) => letter.body), [{ text: 'dead letter' }])
  t.same((await drain(store)).map(textOf), ['active event', 'polled'])
  await t.rejects(sql(url, `INSERT INTO b24_portals (${PORTAL_COLUMNS}) VALUES ('x', 'd', 'e', 'pending', NULL, NULL, NULL, NULL, NULL, 1, 1)`), { message: /check constraint/ }, 'the table refuses a pending row now')

  t.equal(await candidates.confirm(candidate?.id as number, portalRow('pending-1')), true)
  const released = await drain(store)
  t.same(released.map(textOf), ['install', 'pending event'], 'confirmed, its events are handled in the order they came')
  t.match(released, [
    { type: 'ONAPPINSTALL', chatKey: 'chat:p:1', receivedAt: 1000, attempts: 0, credentials: 'sealed-1' },
    { type: 'ONIMV2MESSAGEADD', receivedAt: 1200, credentials: null },
  ])
})
