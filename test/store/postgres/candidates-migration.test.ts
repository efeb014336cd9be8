import t from 'tap'
import { MIGRATIONS } from '../../../src/store/postgres/migrations.ts'
import { checkCarriedOver, OLD_EVENTS, OLD_PORTALS, PORTAL_COLUMNS } from '../pending-carried-over.ts'
import { openPgStore, sql, testDatabase } from './postgres-fixture.ts'

// A release before candidates kept an unconfirmed install as a `pending` row of `b24_portals`, its
// events waiting in the inbox: opened by this one, it is a candidate with those events, in order.

t.test('an install an earlier release kept pending becomes a candidate, with the events of its portal that waited; the rest stays', async (t) => {
  const url = await testDatabase(t)
  await sql(url, 'CREATE TABLE b24_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
  for (const [i, migration] of MIGRATIONS.slice(0, 2).entries()) {
    await sql(url, migration)
    await sql(url, `INSERT INTO b24_migrations (version) VALUES (${i + 1})`)
  }
  for (const [memberId, domain, endpoint, status, token, tokens, at] of OLD_PORTALS) {
    await sql(url, `INSERT INTO b24_portals (${PORTAL_COLUMNS}) VALUES ($1, $2, $3, $4, 'imbot', '2', $5, $6, 1767229200000, $7, $7)`, [memberId, domain, endpoint, status, token, tokens, at])
  }
  for (const event of OLD_EVENTS) {
    await sql(url, `INSERT INTO b24_inbox (status, chat_key, type, source, received_at, next_at, attempts, portal_json, body_kind, body, credentials) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'payload', $9, $10)`, [...event])
  }

  const store = await openPgStore(t, { connectionString: url })
  await checkCarriedOver(t, store, async () => {
    await t.rejects(sql(url, `INSERT INTO b24_portals (${PORTAL_COLUMNS}) VALUES ('x', 'd', 'e', 'pending', NULL, NULL, NULL, NULL, NULL, 1, 1)`), { message: /check constraint/ }, 'the table refuses a pending row now')
  })
})
