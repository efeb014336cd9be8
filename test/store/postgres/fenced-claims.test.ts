import t, { type Test } from 'tap'
import { ClaimLostError } from '../../../src/store/claim-lost-error.ts'
import type { PostgresQueue } from '../../../src/store/postgres/postgres-queue.ts'
import type { ClaimedRecord } from '../../../src/store/store.ts'
import { eventually } from '../../helpers.ts'
import { claimTexts } from '../store-contract.ts'
import { dbNow, newRecord, openPgStore, proxied, sql, testDatabase, textOf, type PgStore } from './postgres-fixture.ts'

// A claim lapses while its handler still runs when renewals stop for the claim's timeout (a
// partition, a failover, a stalled event loop). Replica A here never renews on its own (its
// renewals are paused: an hour apart), so its claim lapses by the database's clock; B takes the
// record over, and C claims beside them. Whatever A writes then must change nothing.

const CLAIM_MS = 600

async function replicas(t: Test): Promise<{ url: string; a: PgStore; b: PgStore; c: PgStore }> {
  const url = await testDatabase(t)
  const a = await openPgStore(t, { replica: 'replica-a', connectionString: url, claimTimeoutMs: CLAIM_MS, renewEveryMs: 3_600_000 })
  const b = await openPgStore(t, { replica: 'replica-b', connectionString: url, claimTimeoutMs: 60_000 })
  const c = await openPgStore(t, { replica: 'replica-c', connectionString: url, claimTimeoutMs: 60_000 })
  return { url, a, b, c }
}

/** A claims the head of chat 1 (with `next` behind it), its claim lapses unrenewed, and B takes the head over. */
async function lapsedAndTakenOver(t: Test) {
  const stores = await replicas(t)
  const { url, a, b } = stores
  await a.append(newRecord(1, 'head'))
  await a.append(newRecord(1, 'next'))
  const [stale] = (await a.queue.claim(1)) as [ClaimedRecord]
  const until = Number((await sql<{ until: string }>(url, 'SELECT claimed_until AS until FROM b24_inbox WHERE id = $1', [stale.id]))[0]?.until)
  await eventually(async () => (await dbNow(url)) > until)
  const [fresh] = (await b.queue.claim(1)) as [ClaimedRecord]
  t.equal(fresh.id, stale.id, 'the lapsed head, taken over by B')
  t.not(fresh.token, stale.token, 'under a claim of its own')
  return { ...stores, stale, fresh }
}

const rows = (url: string) => sql<{ body: string; status: string; claimed_by: string | null }>(url, 'SELECT body, status, claimed_by FROM b24_inbox ORDER BY id')

t.test("a stale complete deletes nothing: B still holds the record, and C gets nothing of B's chat", async (t) => {
  const { url, a, b, c, stale, fresh } = await lapsedAndTakenOver(t)
  t.equal(await a.queue.complete(stale, 'hook:head'), false, 'A learns its claim is lost')
  t.same(await rows(url), [
    { body: '{"text":"head"}', status: 'pending', claimed_by: 'replica-b' },
    { body: '{"text":"next"}', status: 'pending', claimed_by: 'replica-b' },
  ], 'the record is still there, held by B (with the next of its chat, claimed ahead)')
  t.equal(await a.queue.seen('hook:head'), false, "A's dedup key was not kept")
  t.same(await claimTexts(c), [], 'C gets nothing of the chat B holds: one handler per chat')
  t.equal(await b.queue.complete(fresh, 'hook:head'), true)
  t.same(await claimTexts(b), ['next'], "the chat's next, in order, to its holder")
})

t.test('a stale retry clears nothing: the record keeps one holder', async (t) => {
  const { url, a, b, c, stale, fresh } = await lapsedAndTakenOver(t)
  t.equal(await a.queue.retry(stale, 1, Date.now(), 'Error: stale'), false)
  t.same((await rows(url)).map((row) => row.claimed_by), ['replica-b', 'replica-b'], "B's claim stands")
  t.same(await claimTexts(c), [], 'C cannot claim it a third time')
  t.equal(await b.queue.complete(fresh, null), true)
})

t.test('a stale bury leaves nothing in the dead letter once B has handled the record', async (t) => {
  const { a, b, stale, fresh } = await lapsedAndTakenOver(t)
  t.equal(await a.queue.bury(stale, 3, 'Error: stale'), false)
  t.equal(await b.queue.complete(fresh, null), true)
  t.same(await b.deadLetters.list(), [], 'nothing handled lands in the dead letter')
})

t.test('a stale release gives nothing back', async (t) => {
  const { url, a, c, stale } = await lapsedAndTakenOver(t)
  t.equal(await a.queue.release(stale), false)
  t.same((await rows(url)).map((row) => row.claimed_by), ['replica-b', 'replica-b'])
  t.same(await claimTexts(c), [])
})

t.test('a renewal that finds its claim gone aborts it, and what waited of its chat is never handed out by the stale holder', async (t) => {
  const { url, a, b, stale, fresh } = await lapsedAndTakenOver(t)
  t.notOk(stale.lost.aborted, 'A does not know yet')
  await (a.queue as PostgresQueue).renew()
  t.ok(stale.lost.aborted, 'the renewal tells it')
  t.type(stale.lost.reason, ClaimLostError)
  t.match(stale.lost.reason, { inboxId: stale.id, message: /claim on inbox record \d+ was lost/ })
  t.equal(await a.queue.complete(stale, null), false, 'its outcome is refused')
  t.same(await claimTexts(a), [], "A hands out nothing of the chat (its next went with the head's claim)")
  t.equal(await b.queue.complete(fresh, null), true)
  t.same(await claimTexts(b), ['next'])
  t.same((await rows(url)).length, 1)
})

t.test('a renewal that finds a chat claimed ahead gone drops it: the stale holder never hands it out', async (t) => {
  const url = await testDatabase(t)
  const a = await openPgStore(t, { replica: 'replica-a', connectionString: url, claimTimeoutMs: CLAIM_MS, renewEveryMs: 3_600_000, claimAhead: 1 })
  const b = await openPgStore(t, { replica: 'replica-b', connectionString: url })
  await a.append(newRecord(1, 'out'))
  await a.append(newRecord(2, 'ahead'))
  const [out] = (await a.queue.claim(1)) as [ClaimedRecord]
  t.same((await rows(url)).map((row) => row.claimed_by), ['replica-a', 'replica-a'], 'chat 2 claimed ahead, not handed out')
  const until = Number((await sql<{ until: string }>(url, 'SELECT max(claimed_until) AS until FROM b24_inbox'))[0]?.until)
  await eventually(async () => (await dbNow(url)) > until)
  t.same((await b.queue.claim(5)).map(textOf), ['out', 'ahead'], 'B takes both chats over')
  await (a.queue as PostgresQueue).renew()
  t.ok(out.lost.aborted)
  t.equal(await a.queue.release(out), false, 'the one out, given back by its worker: refused, forgotten')
  t.same(await a.queue.claim(5), [], 'A hands out nothing of either chat')
})

t.test('a claim whose statement fails still hands out what this replica held ready', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  const a = await openPgStore(t, { connectionString: through, claimAhead: 0 })
  for (const text of ['1', '2']) await a.append(newRecord(1, text))
  const [one] = (await a.queue.claim(1)) as [ClaimedRecord]
  t.equal(await a.queue.complete(one, null), true)
  proxy.cut()
  t.same((await a.queue.claim(2)).map(textOf), ['2'], 'the chat\'s next, claimed with its head, though the database cannot be asked for more')
  await t.rejects(a.queue.claim(2), 'with nothing held ready, the failure is the claim\'s')
  proxy.restore()
})

t.test('a renewal keeps what it finds: held claims outlive their first deadline, and their signals stay quiet', async (t) => {
  const url = await testDatabase(t)
  const a = await openPgStore(t, { connectionString: url, claimTimeoutMs: CLAIM_MS, renewEveryMs: 3_600_000 })
  await a.append(newRecord(1, 'one'))
  await a.append(newRecord(2, 'two'))
  const claimed = await a.queue.claim(10)
  const untilOf = async () => (await sql<{ until: string }>(url, 'SELECT claimed_until AS until FROM b24_inbox ORDER BY id')).map((row) => Number(row.until))
  const [first] = await untilOf()
  await eventually(async () => (await dbNow(url)) > (first as number))
  // Lapsed but not taken over: the claim is still this replica's, and the renewal keeps it.
  await (a.queue as PostgresQueue).renew()
  for (const until of await untilOf()) t.ok(until > (first as number), 'renewed')
  t.same(claimed.map((record) => record.lost.aborted), [false, false])
  t.same((await Promise.all(claimed.map((record) => a.queue.complete(record, null)))), [true, true])
})

t.test('a claim hands out a chat one record at a time, in order, from what it claimed ahead; released, the rest goes back with it', async (t) => {
  const url = await testDatabase(t)
  const a = await openPgStore(t, { replica: 'replica-a', connectionString: url, perChat: 3, claimAhead: 0 })
  const b = await openPgStore(t, { replica: 'replica-b', connectionString: url })
  for (const text of ['1', '2', '3', '4']) await a.append(newRecord(1, text))
  const [one] = (await a.queue.claim(5)) as [ClaimedRecord]
  t.equal(textOf(one), '1', 'one record of a chat at a time')
  t.same((await rows(url)).map((row) => row.claimed_by), ['replica-a', 'replica-a', 'replica-a', null], 'three claimed in one statement')
  t.same(await a.queue.claim(5), [], 'nothing while the chat has one out')
  t.equal(await a.queue.complete(one, null), true)
  const [two] = (await a.queue.claim(5)) as [ClaimedRecord]
  t.equal(textOf(two), '2', 'the next, from what was claimed ahead')
  t.equal(await a.queue.release(two), true)
  t.same((await rows(url)).map((row) => row.claimed_by), [null, null, null], 'released with what waited of its chat')
  t.same(await claimTexts(b), ['2'], 'another replica takes the chat from where it stood')
})

t.test("a retried head gives its chat's claimed-ahead records back: nothing of the chat is handed out before it", async (t) => {
  const url = await testDatabase(t)
  const a = await openPgStore(t, { connectionString: url, perChat: 3 })
  for (const text of ['1', '2']) await a.append(newRecord(1, text))
  const [one] = (await a.queue.claim(1)) as [ClaimedRecord]
  t.equal(await a.queue.retry(one, 1, Date.now() + 60_000, 'Error: later'), true)
  t.same((await rows(url)).map((row) => row.claimed_by), [null, null], 'the chat is nobody\'s')
  t.same(await a.queue.claim(5), [], 'its head waits for its retry, and holds the rest of the chat')
})

t.test('completions of one turn go together, each told whether its claim held', async (t) => {
  const url = await testDatabase(t)
  const a = await openPgStore(t, { connectionString: url })
  for (let chat = 1; chat <= 3; chat++) await a.append(newRecord(chat, `c${chat}`))
  const claimed = (await a.queue.claim(3)) as [ClaimedRecord, ClaimedRecord, ClaimedRecord]
  const stale = { id: claimed[2].id, token: claimed[2].token + 1000 }
  const done = await Promise.all([a.queue.complete(claimed[0], 'k0'), a.queue.complete(claimed[1], 'k1'), a.queue.complete(stale, 'k2')])
  t.same(done, [true, true, false], 'the one with another token is refused')
  t.same(await Promise.all(['k0', 'k1', 'k2'].map((key) => a.queue.seen(key))), [true, true, false], 'keys kept for those done only')
  t.same(await claimTexts(a), [], 'the third is still held, by its real claim')
  t.equal(await a.queue.complete(claimed[2], null), true)
})

t.test('the token fences a holder of the same name too: a replica restarted under its old name cannot write over its successor', async (t) => {
  const url = await testDatabase(t)
  const before = await openPgStore(t, { replica: 'replica-a', connectionString: url, claimTimeoutMs: CLAIM_MS, renewEveryMs: 3_600_000 })
  const after = await openPgStore(t, { replica: 'replica-a', connectionString: url })
  await before.append(newRecord(1, 'head'))
  const [stale] = (await before.queue.claim(1)) as [ClaimedRecord]
  const until = Number((await sql<{ until: string }>(url, 'SELECT claimed_until AS until FROM b24_inbox WHERE id = $1', [stale.id]))[0]?.until)
  await eventually(async () => (await dbNow(url)) > until)
  const [fresh] = (await after.queue.claim(1)) as [ClaimedRecord]
  t.equal(fresh.id, stale.id)
  t.equal(await before.queue.complete(stale, null), false, 'same name, older claim: refused')
  t.equal(await before.queue.bury(stale, 1, 'Error: stale'), false)
  t.same((await rows(url)).map((row) => row.status), ['pending'])
  t.equal(await after.queue.complete(fresh, null), true)
})

t.test('a renewal whose statement fails judges nothing: the claims stay held, their signals quiet, and the next renewal keeps them', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  const a = await openPgStore(t, { connectionString: through, claimTimeoutMs: CLAIM_MS, renewEveryMs: 3_600_000 })
  await a.append(newRecord(1, 'one'))
  const [held] = (await a.queue.claim(1)) as [ClaimedRecord]
  proxy.cut()
  await (a.queue as PostgresQueue).renew()
  t.equal(held.lost.aborted, false, 'not lost for a statement that could not be sent')
  proxy.restore()
  await (a.queue as PostgresQueue).renew()
  t.equal(held.lost.aborted, false)
  t.equal(await a.queue.complete(held, null), true, 'still this replica’s')
})
