import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.ts'
import { INBOX_FILE } from '../../../src/store/sqlite/open-database.ts'
import { candidatesOf } from '../candidates-contract.ts'
import { portalRow } from '../store-contract.ts'
import { drain, openStore, otherConnection, textOf } from './sqlite-fixture.ts'

// A release before candidates kept an unconfirmed install as a `pending` row of `portals`, its
// events waiting in the inbox: opened by this one, it is a candidate with those events, in order.

const PORTAL_COLUMNS = 'member_id, domain, client_endpoint, status, scope, version, application_token, tokens, expires_at, installed_at, updated_at'
const portalJson = (memberId: string) => JSON.stringify({ domain: `${memberId}.bitrix24.com`, memberId, clientEndpoint: null })

t.test('an install an earlier release kept pending becomes a candidate, with the events of its portal that waited; the rest stays', async (t) => {
  const dir = t.testdir()
  const old = new BetterSqlite3(join(dir, INBOX_FILE))
  old.pragma('journal_mode = WAL')
  for (const migration of MIGRATIONS.slice(0, 5)) old.exec(migration)
  old.pragma('user_version = 5')
  const portal = old.prepare(`INSERT INTO portals (${PORTAL_COLUMNS}) VALUES (?, ?, ?, ?, 'imbot', '2', ?, ?, 1767229200000, ?, ?)`)
  portal.run('active-1', 'active-1.bitrix24.com', 'https://active-1.bitrix24.com/rest/', 'active', 'hash-a', 'v1.sealed-a', 1767225600000, 1767225600000)
  portal.run('pending-1', 'pending-1.bitrix24.com', 'https://pending-1.bitrix24.com/rest/', 'pending', 'hash-p', 'v1.sealed-p', 1767225700000, 1767225700000)
  const event = old.prepare(
    `INSERT INTO inbox (status, chat_key, type, source, received_at, next_at, attempts, portal_json, body_kind, body, credentials)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'payload', ?, ?)`,
  )
  event.run('pending', 'chat:p:1', 'ONAPPINSTALL', 'webhook', 1000, 1000, 4, portalJson('pending-1'), '{"text":"install"}', 'sealed-1')
  event.run('pending', 'chat:a:1', 'ONIMV2MESSAGEADD', 'webhook', 1100, 1100, 0, portalJson('active-1'), '{"text":"active event"}', 'sealed-2')
  event.run('pending', 'chat:p:1', 'ONIMV2MESSAGEADD', 'webhook', 1200, 9000, 2, portalJson('pending-1'), '{"text":"pending event"}', null)
  event.run('dead', 'chat:p:2', 'ONIMV2MESSAGEADD', 'webhook', 1300, 1300, 8, portalJson('pending-1'), '{"text":"dead letter"}', 'sealed-4')
  event.run('pending', 'chat:p:3', 'ONIMV2MESSAGEADD', 'poll', 1400, 1400, 0, portalJson('pending-1'), '{"text":"polled"}', null)
  old.close()

  const store = openStore(t, { dataDir: dir })
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
  t.same((await store.portals?.list())?.map((row) => row.memberId), ['active-1'], 'portals holds confirmed installs only')
  t.same((await store.deadLetters.list()).map((letter) => letter.body), [{ text: 'dead letter' }])
  t.same((await drain(store)).map(textOf), ['active event', 'polled'])
  t.throws(
    () => otherConnection(t, dir).prepare(`INSERT INTO portals (${PORTAL_COLUMNS}) VALUES ('x', 'd', 'e', 'pending', NULL, NULL, NULL, NULL, NULL, 1, 1)`).run(),
    /CHECK constraint failed/,
    'the table refuses a pending row now',
  )

  t.equal(await candidates.confirm(candidate?.id as number, portalRow('pending-1')), true)
  const released = await drain(store)
  t.same(released.map(textOf), ['install', 'pending event'], 'confirmed, its events are handled in the order they came')
  t.match(released, [
    { type: 'ONAPPINSTALL', chatKey: 'chat:p:1', receivedAt: 1000, attempts: 0, credentials: 'sealed-1' },
    { type: 'ONIMV2MESSAGEADD', receivedAt: 1200, credentials: null },
  ])
})
