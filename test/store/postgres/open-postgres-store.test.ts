import { pino } from 'pino'
import t from 'tap'
import { openPostgresStore, POSTGRES_DEFAULTS } from '../../../src/store/postgres/open-postgres-store.ts'
import type { ClaimedRecord } from '../../../src/store/store.ts'
import { PURGE_BATCH, purgeDeadLetters } from '../../../src/store/retention.ts'
import { captureLogs, eventually } from '../../helpers.ts'
import { claimTexts, NONE_NEWER } from '../store-contract.ts'
import { listening, newRecord, openPgStore, PORTAL, proxied, sql, testDatabase, textOf } from './postgres-fixture.ts'

t.test('its defaults: a day of dedup, 10 s claims, a poll every second, a purge every minute, 30 days of dead letters', async (t) => {
  t.same(POSTGRES_DEFAULTS, { dedupWindowMs: 86400000, claimTimeoutMs: 10000, pollIntervalMs: 1000, purgeIntervalMs: 60000, vacuumIntervalMs: 10000, deadLetterRetentionMs: 30 * 86400000, purges: true })
  const url = await testDatabase(t)
  // Options left undefined (as the service passes what the environment does not set) keep the defaults.
  const store = openPostgresStore({ connectionString: url, dedupWindowMs: undefined, claimTimeoutMs: undefined }, 'replica-a')
  t.teardown(() => store.close())
  await store.append(newRecord(1, 'x'))
  const before = Date.now()
  const [record] = (await store.queue.claim(10)) as [ClaimedRecord]
  const [row] = (await sql<{ claimed_by: string; until: string }>(url, 'SELECT claimed_by, claimed_until AS until FROM b24_inbox')) as [{ claimed_by: string; until: string }]
  t.equal(row.claimed_by, 'replica-a', 'its claims carry the replica name it was opened with')
  t.ok(Number(row.until) >= before + 10000 - 5 && Number(row.until) <= Date.now() + 10000 + 5, 'claimed for 10 s')
  await store.queue.complete(record, 'hook:x')
  const [seen] = (await sql<{ expires: string }>(url, 'SELECT expires_at AS expires FROM b24_seen')) as [{ expires: string }]
  t.ok(Number(seen.expires) >= before + 86400000 - 5 && Number(seen.expires) <= Date.now() + 86400000 + 5, 'seen for a day')
})

t.test('connects nothing before its first call, and creates its schema then', async (t) => {
  const url = await testDatabase(t)
  const store = await openPgStore(t, { connectionString: url })
  // Clients only (an autovacuum worker may visit the new database at any moment), once the
  // store's listener, which connects at open, has said LISTEN (before, its query is empty).
  await eventually(async () => (await listening(url)) === 1)
  const connections = async () => Number((await sql<{ n: string }>(url, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND query <> 'LISTEN b24_inbox'"))[0]?.n)
  t.equal(await connections(), 0, 'none but the listener')
  t.same(await sql(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'b24_%'"), [], 'no schema yet')
  t.same(await store.stats(), { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0, newerFormat: NONE_NEWER })
  t.same((await sql<{ tablename: string }>(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'b24_%' ORDER BY 1")).map((row) => row.tablename), ['b24_candidate_events', 'b24_candidates', 'b24_inbox', 'b24_leases', 'b24_meta', 'b24_migrations', 'b24_portals', 'b24_rest_buckets', 'b24_seen'])
})

t.test('forgets handled keys past their dedup window: the purge deletes them, and keeps the others', async (t) => {
  const store = await openPgStore(t, { dedupWindowMs: 60000, purgeIntervalMs: 20 })
  const url = store.connectionString
  await store.append(newRecord(1, 'kept'))
  const [record] = (await store.queue.claim(10)) as [ClaimedRecord]
  await store.queue.complete(record, 'hook:kept')
  await sql(url, "INSERT INTO b24_seen (key, expires_at) VALUES ('hook:old', 1)")
  const keys = async () => (await sql<{ key: string }>(url, 'SELECT key FROM b24_seen ORDER BY key')).map((row) => row.key)
  await eventually(async () => !(await keys()).includes('hook:old'))
  t.same(await keys(), ['hook:kept'], 'a purge went by, and the key in its window is still there')
  t.equal(await store.queue.seen('hook:kept'), true)
})

t.test("purges: false (a command's store beside the service) purges nothing in the background", async (t) => {
  const store = await openPgStore(t, { purgeIntervalMs: 5, purges: false })
  await store.stats() // migrated
  await sql(store.connectionString, "INSERT INTO b24_seen (key, expires_at) VALUES ('hook:old', 1)")
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(await sql(store.connectionString, 'SELECT key FROM b24_seen'), [{ key: 'hook:old' }], 'past its window, still there: twenty intervals went by')
})

t.test('a purge that fails (the database away) is tried again at the next interval, and throws nowhere', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  const store = await openPgStore(t, { connectionString: through, purgeIntervalMs: 20 })
  t.same(await store.stats(), { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0, newerFormat: NONE_NEWER })
  proxy.cut()
  await eventually(() => store.unavailable() !== null)
  t.match(store.unavailable(), /^PostgreSQL cannot be used: /, 'a failed purge says so')
  await sql(url, "INSERT INTO b24_seen (key, expires_at) VALUES ('hook:old', 1)")
  proxy.restore()
  await eventually(async () => (await sql(url, 'SELECT 1 FROM b24_seen')).length === 0)
  await eventually(() => store.unavailable() === null)
  t.pass('the next purge forgot the key')
})

t.test('PostgreSQL unreachable: appends refused with 503 and nothing stored, unavailable() says why; back without a restart', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  const store = await openPgStore(t, { connectionString: through, pollIntervalMs: 60000, timeoutMs: 2000 })
  const other = await openPgStore(t, { connectionString: url, replica: 'replica-b' })
  await store.append(newRecord(1, 'before'))
  t.equal(store.unavailable(), null)
  let told = 0
  store.queue.onAvailable(() => told++)
  await eventually(async () => (await listening(url)) === 2)

  proxy.cut()
  const refused = { name: 'StoreUnavailableError', statusCode: 503, code: 'INBOX_UNAVAILABLE', message: 'the inbox cannot store events now' }
  const outcomes = await Promise.allSettled(['cut 1', 'cut 2', 'cut 3'].map((text) => store.append(newRecord(2, text))))
  t.same(outcomes.map((outcome) => outcome.status), ['rejected', 'rejected', 'rejected'])
  await t.rejects(store.append(newRecord(2, 'cut 4')), refused)
  t.match(store.unavailable(), /^PostgreSQL cannot be used: /)
  t.notMatch(store.unavailable(), /postgres:\/\//, 'no connection string in the reason')
  await t.rejects(store.queue.claim(10), 'a claim fails too (the worker reports it and waits)')
  await t.rejects(store.stats())
  // Another replica that reaches PostgreSQL keeps working meanwhile.
  await other.append(newRecord(3, 'elsewhere'))

  proxy.restore()
  await store.append(newRecord(2, 'after'))
  t.equal(store.unavailable(), null, 'available again, the same store')
  const texts = (await store.stats()).depth
  t.equal(texts, 3)
  const stored = (await sql<{ body: string }>(url, 'SELECT body FROM b24_inbox ORDER BY id')).map((row) => JSON.parse(row.body).text)
  t.same(stored, ['before', 'elsewhere', 'after'], 'nothing refused was stored')

  // Its listener connected again: a notification from the other replica is heard.
  await eventually(async () => (await listening(url)) === 2, 5000)
  const before = told
  await other.append(newRecord(4, 'heard'))
  await eventually(() => told > before)
  t.same(await claimTexts(store), ['before', 'elsewhere', 'after', 'heard'])
})

t.test('appends around a cut: every one that resolved is stored, none made after the cut is', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  const store = await openPgStore(t, { connectionString: through })
  await store.stats()
  const resolved = new Set<string>()
  const afterCut: string[] = []
  let refused = 0
  const appends: Array<Promise<void>> = []
  let turn = 0
  const appendTurn = (cut: boolean) => {
    for (let i = 0; i < 5; i++) {
      const text = `t${turn}.${i}`
      if (cut) afterCut.push(text)
      appends.push(store.append(newRecord(i, text)).then(() => void resolved.add(text), () => void refused++))
    }
    turn++
  }
  // Five appends a turn, turn after turn, until the first are acknowledged; then PostgreSQL goes
  // away (with inserts on the wire), and appends go on for a few turns.
  while (resolved.size === 0) {
    appendTurn(false)
    await new Promise((resolve) => setImmediate(resolve))
  }
  proxy.cut()
  for (let i = 0; i < 5; i++) {
    appendTurn(true)
    await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(appends)
  proxy.restore()
  const stored = new Set((await sql<{ body: string }>(url, 'SELECT body FROM b24_inbox')).map((row) => textOf(row)))
  t.ok(resolved.size > 0 && afterCut.length > 0, `${resolved.size} acknowledged before the cut, ${afterCut.length} made after it`)
  t.same([...resolved].filter((text) => !stored.has(text)), [], 'every acknowledged append is stored')
  t.same(afterCut.filter((text) => stored.has(text)), [], 'none made after the cut is')
  t.equal(refused, appends.length - resolved.size, 'the others refused')
  // Those on the wire when it went may have been committed or not: refused (503) either way, as the sender never retries.
})

t.test('closing commits what is waiting first: the pool closes after it', async (t) => {
  const store = await openPgStore(t, { poolSize: 1 })
  await store.stats()
  // More than one insert's worth, and more inserts than may be under way at once, on one connection.
  const waiting = Array.from({ length: 1500 }, (_, i) => store.append(newRecord(i % 7, `m${i}`)))
  await store.close()
  const outcomes = await Promise.allSettled(waiting)
  t.same(outcomes.filter((outcome) => outcome.status === 'rejected'), [], 'every one resolved')
  t.same(await sql(store.connectionString, 'SELECT count(*)::int AS n FROM b24_inbox'), [{ n: 1500 }])
  await t.rejects(store.append(newRecord(1, 'after')), { name: 'StoreUnavailableError' }, 'then it refuses')
})

/**
 * Inserts `n` dead letters whose last attempt came due at `at` (epoch ms), as a broken handler
 * leaves them, and in the same transaction `portals` portals uninstalled then (`gone-1`…): one purge sees them all.
 */
const oldDeadLetters = (url: string, n: number, at: number, portals = 0) =>
  sql(
    url,
    `WITH portals AS (
       INSERT INTO b24_portals (member_id, domain, client_endpoint, status, installed_at, updated_at)
       SELECT 'gone-' || n, 'gone.bitrix24.com', 'https://gone.bitrix24.com/rest/', 'uninstalled', 1, $2 FROM generate_series(1, $4::int) n)
     INSERT INTO b24_inbox (status, chat_key, type, source, received_at, next_at, attempts, last_error, portal_json, body_kind, body, credentials)
     SELECT 'dead', 'chat:old', 'ONIMV2MESSAGEADD', 'webhook', $2, $2, 8, 'Error: down', $3, 'payload', '{"text":"old body"}', 'v1.sealed-secret' FROM generate_series(1, $1)`,
    [n, at, JSON.stringify(PORTAL), portals],
  )

t.test('drops dead letters and uninstalled portals past their retention in the background, batch by batch, with one log line', async (t) => {
  const logs = captureLogs()
  const url = await testDatabase(t)
  const store = openPostgresStore({ connectionString: url, purgeIntervalMs: 5, deadLetterRetentionMs: 60_000 }, 'replica-a', pino({ level: 'info' }, logs.stream))
  t.teardown(() => store.close())
  // A purge pass has gone by since now once a key it forgets is gone, twice over.
  const passes = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await sql(url, "INSERT INTO b24_seen (key, expires_at) VALUES ('hook:pass', 1)")
      await eventually(async () => (await sql(url, "SELECT 1 FROM b24_seen WHERE key = 'hook:pass'")).length === 0)
    }
  }
  await store.append(newRecord(1, 'young', { credentials: 'v1.sealed-secret' }))
  const [young] = (await store.queue.claim(10)) as [ClaimedRecord]
  await store.queue.bury(young, 8, 'Error: down')
  await passes(2)
  t.same(logs.lines, [], 'nothing past its retention: nothing logged')

  const old = Date.now() - 120_000
  await oldDeadLetters(url, PURGE_BATCH * 2 + 3, old, 1)
  await eventually(async () => (await store.deadLetters.list()).length === 1 && (await store.portals?.list())?.length === 0)
  t.same((await store.deadLetters.list()).map((letter) => letter.id), [young.id], 'the young one kept')
  t.equal(await store.portals?.get('gone-1'), null, 'the forgotten portal gone with them')
  await passes(2)
  // One line per purge that dropped something (one, unless a purge ran as the rows were inserted and saw only some), none for the passes after.
  const lines = logs.parsed()
  const [line] = lines
  t.ok(lines.length >= 1 && lines.length <= 2, `${lines.length} line(s)`)
  for (const each of lines) t.match(each, { level: 30, olderThan: '1m', msg: /^retention: dropped \d+ dead letters? and \d+ uninstalled portals? older than 1m$/ })
  t.ok(lines.every((each) => Number(each.deadLetters) + Number(each.portals) > 0), 'each dropped something')
  t.same([lines.reduce((sum, each) => sum + Number(each.deadLetters), 0), lines.reduce((sum, each) => sum + Number(each.portals), 0)], [PURGE_BATCH * 2 + 3, 1], 'each row counted once')
  if (lines.length === 1) t.match(line, { deadLetters: PURGE_BATCH * 2 + 3, portals: 1, msg: `retention: dropped ${PURGE_BATCH * 2 + 3} dead letters and 1 uninstalled portal older than 1m` })
  t.notMatch(logs.text(), /body|sealed|secret/, 'never a body or a token')
})

t.test('replicas purging at once: each dead letter and portal dropped once between them, none waiting on another, nothing failing', async (t) => {
  const url = await testDatabase(t)
  const logs = [captureLogs(), captureLogs(), captureLogs()]
  const stores = logs.map((log, i) => openPostgresStore({ connectionString: url, purgeIntervalMs: 5, deadLetterRetentionMs: 60_000 }, `replica-${i}`, pino({ level: 'info' }, log.stream)))
  t.teardown(() => Promise.all(stores.map((store) => store.close())))
  await Promise.all(stores.map((store) => store.stats()))
  const old = Date.now() - 120_000
  await oldDeadLetters(url, 3000, old, 20)
  await eventually(async () => (await sql(url, 'SELECT 1 FROM b24_inbox UNION ALL SELECT 1 FROM b24_portals')).length === 0)
  // What each purge logged, once its last line is written.
  const total = (field: string) => logs.flatMap((log) => log.parsed()).reduce((sum, line) => sum + Number(line[field]), 0)
  await eventually(() => total('deadLetters') === 3000 && total('portals') === 20)
  t.equal(total('deadLetters'), 3000, 'every dead letter counted once')
  t.equal(total('portals'), 20)
  t.same(stores.map((store) => store.unavailable()), [null, null, null], 'no purge failed')

  // The same, called at once, a few at a time, by replicas whose own purge waits a minute.
  const calling = ['replica-d', 'replica-e', 'replica-f'].map((replica) => openPostgresStore({ connectionString: url }, replica))
  t.teardown(() => Promise.all(calling.map((store) => store.close())))
  await Promise.all(stores.map((store) => store.close()))
  await oldDeadLetters(url, 100, old)
  const dropped = await Promise.all(calling.flatMap((store) => [store, store]).map((store) => purgeDeadLetters(store.deadLetters, Date.now() - 60_000, { batch: 7 })))
  t.equal(dropped.reduce((sum, n) => sum + n, 0), 100, `dropped once between them: ${dropped.join(', ')}`)
})
