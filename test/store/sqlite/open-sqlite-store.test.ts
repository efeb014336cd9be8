import { pino } from 'pino'
import t from 'tap'
import { BUSY_TIMEOUT_MS } from '../../../src/store/sqlite/open-database.ts'
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.ts'
import type { ClaimedRecord } from '../../../src/store/store.ts'
import { PURGE_BATCH } from '../../../src/store/retention.ts'
import { captureLogs, eventually } from '../../helpers.ts'
import { unclaimed } from '../../fakes/new-record.ts'
import { claimTexts, drain, newRecord, openStore, otherConnection, PORTAL, textOf } from './sqlite-fixture.ts'
import { NONE_NEWER } from '../store-contract.ts'

t.test('stores a record and hands it back whole, credentials included, here and after a restart', async (t) => {
  const store = openStore(t)
  const before = Date.now()
  t.equal(await store.append(newRecord(1, 'hello', { credentials: 'v1.sealed' })), undefined)
  const [claimed] = (await store.queue.claim(10)) as [ClaimedRecord]
  const stored = unclaimed(claimed)
  t.same(stored, {
    id: stored.id,
    chatKey: 'chat:1',
    type: 'ONIMV2MESSAGEADD',
    source: 'webhook',
    portal: PORTAL,
    bodyKind: 'payload',
    body: '{"text":"hello"}',
    credentials: 'v1.sealed',
    attempts: 0,
    receivedAt: stored.receivedAt,
  })
  t.type(stored.id, 'number')
  t.ok(stored.receivedAt >= before && stored.receivedAt <= Date.now())
  await store.close()

  const reopened = openStore(t, { dataDir: store.dataDir })
  t.same((await reopened.queue.claim(10)).map(unclaimed), [stored], 'read back from the database as it was handed out')
})

t.test('keeps every kind of body and door as it came, and a record without credentials', async (t) => {
  const store = openStore(t)
  const form = 'event=ONIMBOTV2MESSAGEADD&data%5BPARAMS%5D%5BMESSAGE%5D=hi'
  await store.append(newRecord(1, 'form', { bodyKind: 'form', body: form, credentials: null }))
  await store.append(newRecord(2, 'polled', { source: 'poll', type: 'ONIMBOTJOINCHAT', chatKey: 'solo:member-1:ONIMBOTJOINCHAT' }))
  await store.append(newRecord(3, 'legacy', { bodyKind: 'event' }))
  const expected = [
    { chatKey: 'chat:1', bodyKind: 'form', body: form, credentials: null, source: 'webhook' },
    { chatKey: 'solo:member-1:ONIMBOTJOINCHAT', type: 'ONIMBOTJOINCHAT', source: 'poll', bodyKind: 'payload', body: '{"text":"polled"}', credentials: 'sealed-credentials' },
    { chatKey: 'chat:3', bodyKind: 'event', body: '{"text":"legacy"}' },
  ]
  const claimed = await store.queue.claim(10)
  t.match(claimed, expected)
  await store.close()
  const reopened = openStore(t, { dataDir: store.dataDir })
  t.same((await reopened.queue.claim(10)).map(unclaimed), claimed.map(unclaimed), 'the same, read back from the database')
})

t.test('stores a double delivery twice: the worker recognises it once decoded', async (t) => {
  const store = openStore(t)
  await Promise.all([store.append(newRecord(1, 'twin')), store.append(newRecord(1, 'twin'))])
  await store.append(newRecord(1, 'twin'))
  const handled = await drain(store)
  t.same(handled.map(textOf), ['twin', 'twin', 'twin'], 'in the same turn or a turn later')
  t.equal(new Set(handled.map((record) => record.id)).size, 3, 'three records')
})

t.test('the appends of one turn are one commit: one that cannot be written fails them all', async (t) => {
  const store = openStore(t)
  otherConnection(t, store.dataDir).exec(`CREATE TRIGGER broken BEFORE INSERT ON inbox WHEN NEW.body = '{"text":"bad"}' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`)
  const failure = { name: 'StoreUnavailableError', statusCode: 503, message: 'the inbox cannot store events now' }
  const good = store.append(newRecord(1, 'good'))
  const bad = store.append(newRecord(2, 'bad'))
  await t.rejects(good, failure)
  await t.rejects(bad, failure)
  t.equal(store.unavailable(), 'the inbox cannot be written')
  t.match(await store.stats(), { depth: 0 }, 'nothing half-stored')
  t.same(await store.queue.claim(10), [])
  await store.append(newRecord(1, 'good'))
  t.equal(store.unavailable(), null, 'the next turn is another commit: writable again')
  t.same(await claimTexts(store), ['good'])
})

t.test('forgets a handled key once its dedup window is over: the purge deletes it', async (t) => {
  const store = openStore(t, { dedupWindowMs: 30, purgeIntervalMs: 5 })
  const db = otherConnection(t, store.dataDir)
  await store.append(newRecord(1, 'once'))
  const [record] = await store.queue.claim(10)
  await store.queue.complete(record as ClaimedRecord, 'hook:once')
  const kept = () => db.prepare("SELECT COUNT(*) FROM seen WHERE key = 'hook:once'").pluck().get() === 1
  t.ok(kept(), 'remembered')
  t.equal(await store.queue.seen('hook:once'), true)
  await eventually(() => !kept())
  t.equal(await store.queue.seen('hook:once'), false, 'the same key is a new event now')
})

t.test("purges: false (a command's store beside the service) purges nothing in the background", async (t) => {
  const store = openStore(t, { dedupWindowMs: 1, purgeIntervalMs: 5, purges: false })
  const db = otherConnection(t, store.dataDir)
  await store.append(newRecord(1, 'once'))
  const [record] = await store.queue.claim(10)
  await store.queue.complete(record as ClaimedRecord, 'hook:once')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(db.prepare("SELECT COUNT(*) FROM seen WHERE key = 'hook:once'").pluck().get(), 1, 'past its window, still there: ten intervals went by')
})

t.test('keeps the key of a handled record through the purges of its dedup window', async (t) => {
  const store = openStore(t, { dedupWindowMs: 60000, purgeIntervalMs: 5 })
  const db = otherConnection(t, store.dataDir)
  await store.append(newRecord(1, 'kept'))
  const [record] = await store.queue.claim(10)
  await store.queue.complete(record as ClaimedRecord, 'hook:kept')
  // A key whose window ended long ago, to see a purge go by.
  db.prepare("INSERT INTO seen (key, expires_at) VALUES ('hook:old', 1)").run()
  const old = () => db.prepare("SELECT COUNT(*) FROM seen WHERE key = 'hook:old'").pluck().get() as number
  await eventually(() => old() === 0)
  t.equal(await store.queue.seen('hook:kept'), true, 'a purge went by, and the key is still known')
})

t.test('a purge that cannot be written is tried again at the next interval', async (t) => {
  const store = openStore(t, { purgeIntervalMs: 5 })
  const db = otherConnection(t, store.dataDir)
  db.exec("CREATE TRIGGER broken BEFORE DELETE ON seen BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
  db.prepare("INSERT INTO seen (key, expires_at) VALUES ('hook:old', 1)").run()
  await eventually(() => store.unavailable() !== null)
  t.equal(store.unavailable(), 'the inbox cannot be written', 'a failed purge says so, and throws nowhere')
  db.exec('DROP TRIGGER broken')
  await eventually(() => db.prepare('SELECT COUNT(*) FROM seen').pluck().get() === 0)
  t.equal(store.unavailable(), null, 'the next purge forgot the key')
})

t.test('a purge does not hold the process up while another process reads', async (t) => {
  const store = openStore(t, { purgeIntervalMs: 20 })
  const reader = otherConnection(t, store.dataDir)
  const watcher = otherConnection(t, store.dataDir)
  await store.append(newRecord(1, 'a'))
  watcher.prepare("INSERT INTO seen (key, expires_at) VALUES ('hook:old', 1)").run()
  // `dlq list` or an operator's sqlite3 shell in the middle of a read.
  reader.exec('BEGIN')
  reader.prepare('SELECT COUNT(*) FROM inbox').get()
  let last = Date.now()
  let longest = 0
  const ticks = setInterval(() => {
    longest = Math.max(longest, Date.now() - last)
    last = Date.now()
  }, 5)
  await eventually(() => watcher.prepare('SELECT COUNT(*) FROM seen').pluck().get() === 0, 10000)
  // The checkpoint follows the purge's commit at once: by the time the key is seen gone, it has run.
  await new Promise((resolve) => setImmediate(resolve))
  clearInterval(ticks)
  reader.exec('COMMIT')
  // A checkpoint that waited for the reader would hold the loop the whole busy timeout, 5 s; a
  // machine busy with other work may hold it up for a moment, not for that.
  t.ok(longest < BUSY_TIMEOUT_MS, `the event loop stood still ${longest} ms at most, not the busy timeout (${BUSY_TIMEOUT_MS} ms)`)
})

t.test('tells its figures from the lines it keeps: depth, the oldest pending age, retries; dead letters', async (t) => {
  const store = openStore(t)
  t.same(await store.stats(), { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0, newerFormat: NONE_NEWER })
  await store.append(newRecord(1, 'a'))
  await store.append(newRecord(2, 'b'))
  await store.append(newRecord(3, 'c'))
  await store.append(newRecord(3, 'c2'))
  const [first, b] = (await store.queue.claim(2)) as [ClaimedRecord, ClaimedRecord]
  await store.queue.retry(first, 1, Date.now() + 60000, 'Error: boom')
  await store.queue.bury(b, 3, 'Error: boom')
  t.same(await claimTexts(store), ['c'])
  const before = Date.now()
  const stats = await store.stats()
  t.match(stats, { depth: 3, retrying: 1, deadLetters: 1 }, 'running, waiting for a retry or for its turn, a pending record counts')
  t.ok((stats.oldestPendingAgeMs as number) >= before - first.receivedAt && (stats.oldestPendingAgeMs as number) <= Date.now() - first.receivedAt, 'the age of a, the oldest')
})

t.test('a revived dead letter older than every pending record: its age is the oldest', async (t) => {
  const store = openStore(t)
  await store.append(newRecord(1, 'old'))
  const [old] = (await store.queue.claim(10)) as [ClaimedRecord]
  await store.queue.bury(old, 3, 'Error: boom')
  await eventually(() => Date.now() > old.receivedAt + 20)
  await store.append(newRecord(2, 'new'))
  await store.deadLetters.revive(old.id)
  // Its chat's line comes after the newer record's.
  const before = Date.now()
  const stats = await store.stats()
  t.match(stats, { depth: 2, retrying: 0, deadLetters: 0 })
  t.ok((stats.oldestPendingAgeMs as number) >= before - old.receivedAt && (stats.oldestPendingAgeMs as number) <= Date.now() - old.receivedAt, 'the age of the revived record')
})

t.test('tells the same figures after a restart, read from the database', async (t) => {
  const first = openStore(t)
  await first.append(newRecord(1, 'a'))
  await first.append(newRecord(2, 'b'))
  await first.append(newRecord(1, 'a2'))
  const [a, b] = (await first.queue.claim(10)) as [ClaimedRecord, ClaimedRecord]
  await first.queue.retry(a, 2, Date.now(), 'Error: boom')
  await first.queue.bury(b, 3, 'Error: boom')
  const figures = await first.stats()
  await first.close()
  const store = openStore(t, { dataDir: first.dataDir })
  const stats = await store.stats()
  t.same({ ...stats, oldestPendingAgeMs: null }, { depth: 2, retrying: 1, deadLetters: 1, oldestPendingAgeMs: null, newerFormat: NONE_NEWER })
  t.ok((stats.oldestPendingAgeMs as number) >= (figures.oldestPendingAgeMs as number), 'the same oldest record')
  t.ok((stats.oldestPendingAgeMs as number) <= Date.now() - a.receivedAt)
})

t.test('tells what another process changed once its queue has looked (within pollIntervalMs)', async (t) => {
  const store = openStore(t, { pollIntervalMs: 20 })
  // As the worker does: claims whenever the queue says something may be new (and keeps them running).
  const running: ClaimedRecord[] = []
  store.queue.onAvailable(async () => running.push(...(await store.queue.claim(100))))
  await store.append(newRecord(1, 'a'))
  await store.append(newRecord(2, 'b'))
  await eventually(() => running.length === 2)
  const [a, b] = running as [ClaimedRecord, ClaimedRecord]
  await store.queue.retry(a, 1, Date.now() + 60000, 'Error: boom')
  await store.queue.bury(b, 3, 'Error: boom')
  t.match(await store.stats(), { depth: 1, retrying: 1, deadLetters: 1 })

  // `dlq replay` in another process, and an event stored there.
  const other = openStore(t, { dataDir: store.dataDir })
  t.match(await other.stats(), { depth: 1, retrying: 1, deadLetters: 1 }, 'the other process reads the same at open')
  // One commit: nothing runs in this process between it and the next line.
  await Promise.all([other.deadLetters.revive(b.id), other.append(newRecord(3, 'c'))])
  // Its lines, not the database, until the queue looks: /health never scans the inbox.
  t.match(await store.stats(), { depth: 1, retrying: 1, deadLetters: 0 })
  t.match(await other.stats(), { depth: 3, retrying: 1, deadLetters: 0 })
  await eventually(async () => (await store.stats()).depth === 3)
  t.match(await store.stats(), { depth: 3, retrying: 1, deadLetters: 0 })
  await eventually(() => running.length === 4)
  t.same(running.slice(2).map(textOf), ['b', 'c'], 'and hands them out')
})

t.test('closing commits what is waiting, and a closed store refuses to store', async (t) => {
  const store = openStore(t)
  const waiting = store.append(newRecord(1, 'queued at close'))
  await store.close()
  await t.resolves(waiting)
  // The Store contract of the earlier release (and the receiver's own close) let a close be repeated.
  await t.resolves(store.close(), 'twice is fine')
  await t.rejects(store.append(newRecord(1, 'after')), { name: 'StoreUnavailableError', statusCode: 503 })
  const reopened = openStore(t, { dataDir: store.dataDir })
  t.same(await claimTexts(reopened), ['queued at close'])
})

t.test('opens with its defaults, and refuses to open where it cannot', async (t) => {
  const dataDir = t.testdir({ 'inbox.db': 'not a database, just text long enough to have a header of sorts' })
  t.throws(() => openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 1000 }), { name: 'StoreUnavailableError', message: /is not a readable SQLite database/ })
  const store = openSqliteStore({ dataDir: t.testdir(), durability: 'power', dedupWindowMs: 1000 })
  t.teardown(() => store.close())
  await store.append(newRecord(1, 'x'))
  t.same(await claimTexts(store), ['x'])
})

t.test('drops dead letters and uninstalled portals past their retention in the background, batch by batch, with one log line', async (t) => {
  const logs = captureLogs()
  const logger = pino({ level: 'info' }, logs.stream)
  const store = openStore(t, { purgeIntervalMs: 5, deadLetterRetentionMs: 60_000, logger })
  const db = otherConnection(t, store.dataDir)
  // A purge pass has gone by since now once a key it forgets is gone, twice over.
  const passes = async (n: number) => {
    for (let i = 0; i < n; i++) {
      db.prepare("INSERT INTO seen (key, expires_at) VALUES ('hook:pass', 1)").run()
      await eventually(() => db.prepare("SELECT COUNT(*) FROM seen WHERE key = 'hook:pass'").pluck().get() === 0)
    }
  }
  await store.append(newRecord(1, 'young', { credentials: 'v1.sealed-secret' }))
  const [young] = (await store.queue.claim(10)) as [ClaimedRecord]
  await store.queue.bury(young, 8, 'Error: down')
  await passes(2)
  t.same(logs.lines, [], 'nothing past its retention: nothing logged')

  // More than a batch of old ones (last attempt two minutes ago), as a broken handler leaves them.
  const insert = db.prepare(
    `INSERT INTO inbox (status, chat_key, type, source, received_at, next_at, attempts, last_error, portal_json, body_kind, body, credentials)
     VALUES ('dead', 'chat:old', 'ONIMV2MESSAGEADD', 'webhook', ?, ?, 8, 'Error: down', ?, 'payload', '{"text":"old body"}', 'v1.sealed-secret')`,
  )
  const old = Date.now() - 120_000
  // In one transaction with a portal uninstalled as long ago: one purge sees them all.
  db.transaction(() => {
    for (let i = 0; i < PURGE_BATCH * 2 + 3; i++) insert.run(old, old, JSON.stringify(PORTAL))
    db.prepare(`INSERT INTO portals (member_id, domain, client_endpoint, status, installed_at, updated_at) VALUES ('gone', 'gone.bitrix24.com', 'https://gone.bitrix24.com/rest/', 'uninstalled', 1, ?)`).run(old)
  })()
  await eventually(async () => (await store.deadLetters.list()).length === 1 && (await store.portals?.list())?.length === 0)
  t.same((await store.deadLetters.list()).map((letter) => letter.id), [young.id], 'the young one kept')
  t.equal(await store.portals?.get('gone'), null, 'the forgotten portal gone with them')
  await passes(2)
  // One line per purge that dropped something (one, unless a purge ran as the rows were inserted and saw only some), none for the passes after.
  const lines = logs.parsed()
  const [line] = lines
  t.ok(lines.length >= 1 && lines.length <= 2, `${lines.length} line(s)`)
  for (const each of lines) t.match(each, { level: 30, olderThan: '1m', msg: /^retention: dropped \d+ dead letters? and \d+ uninstalled portals? older than 1m$/ })
  t.ok(lines.every((each) => Number(each.deadLetters) + Number(each.portals) > 0), 'each dropped something')
  t.same([lines.reduce((sum, each) => sum + Number(each.deadLetters), 0), lines.reduce((sum, each) => sum + Number(each.portals), 0)], [PURGE_BATCH * 2 + 3, 1], 'each row counted once')
  if (lines.length === 1) t.match(line, { deadLetters: PURGE_BATCH * 2 + 3, portals: 1, msg: `retention: dropped ${PURGE_BATCH * 2 + 3} dead letters and 1 uninstalled portal older than 1m` })
  t.ok(Date.parse(String(line?.before)) <= Date.now() - 60_000, 'older than a minute before the purge')
  t.notMatch(logs.text(), /body|sealed|secret/, 'never a body or a token')
})
