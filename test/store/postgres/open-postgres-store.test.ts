import t from 'tap'
import { openPostgresStore, POSTGRES_DEFAULTS } from '../../../src/store/postgres/open-postgres-store.ts'
import type { ClaimedRecord } from '../../../src/store/store.ts'
import { eventually } from '../../helpers.ts'
import { claimTexts, NONE_NEWER } from '../store-contract.ts'
import { listening, newRecord, openPgStore, proxied, sql, testDatabase, textOf } from './postgres-fixture.ts'

t.test('its defaults: a day of dedup, 10 s claims, a poll every second, a purge every minute', async (t) => {
  t.same(POSTGRES_DEFAULTS, { dedupWindowMs: 86400000, claimTimeoutMs: 10000, pollIntervalMs: 1000, purgeIntervalMs: 60000 })
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
  t.same((await sql<{ tablename: string }>(url, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'b24_%' ORDER BY 1")).map((row) => row.tablename), ['b24_candidate_events', 'b24_candidates', 'b24_inbox', 'b24_leases', 'b24_meta', 'b24_migrations', 'b24_portals', 'b24_seen'])
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
  const other = await openPgStore(t, { connectionString: url })
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
