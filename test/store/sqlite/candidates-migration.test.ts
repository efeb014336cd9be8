import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import t from 'tap'
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.ts'
import { INBOX_FILE } from '../../../src/store/sqlite/open-database.ts'
import { checkCarriedOver, OLD_EVENTS, OLD_PORTALS, PORTAL_COLUMNS } from '../pending-carried-over.ts'
import { openStore, otherConnection } from './sqlite-fixture.ts'

// A release before candidates kept an unconfirmed install as a `pending` row of `portals`, its
// events waiting in the inbox: opened by this one, it is a candidate with those events, in order.

t.test('an install an earlier release kept pending becomes a candidate, with the events of its portal that waited; the rest stays', async (t) => {
  const dir = t.testdir()
  const old = new BetterSqlite3(join(dir, INBOX_FILE))
  old.pragma('journal_mode = WAL')
  for (const migration of MIGRATIONS.slice(0, 5)) old.exec(migration)
  old.pragma('user_version = 5')
  const portal = old.prepare(`INSERT INTO portals (${PORTAL_COLUMNS}) VALUES (?, ?, ?, ?, 'imbot', '2', ?, ?, 1767229200000, ?, ?)`)
  for (const [memberId, domain, endpoint, status, token, tokens, at] of OLD_PORTALS) portal.run(memberId, domain, endpoint, status, token, tokens, at, at)
  const event = old.prepare(`INSERT INTO inbox (status, chat_key, type, source, received_at, next_at, attempts, portal_json, body_kind, body, credentials) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'payload', ?, ?)`)
  for (const row of OLD_EVENTS) event.run(...row)
  old.close()

  const store = openStore(t, { dataDir: dir })
  await checkCarriedOver(t, store, async () => {
    t.throws(
      () => otherConnection(t, dir).prepare(`INSERT INTO portals (${PORTAL_COLUMNS}) VALUES ('x', 'd', 'e', 'pending', NULL, NULL, NULL, NULL, NULL, 1, 1)`).run(),
      /CHECK constraint failed/,
      'the table refuses a pending row now',
    )
  })
})
