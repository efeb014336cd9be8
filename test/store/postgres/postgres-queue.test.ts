import t from 'tap'
import type { ClaimedRecord, Store, StoredRecord } from '../../../src/store/store.ts'
import { eventually } from '../../helpers.ts'
import { unclaimed } from '../../fakes/new-record.ts'
import { claimTexts, drain } from '../store-contract.ts'
import { dbNow, listening, newRecord, openPgStore, proxied, sql, testDatabase, textOf } from './postgres-fixture.ts'

// Two stores on one database are two replicas: the queue is shared through PostgreSQL alone.

t.test("a chat's head claimed by one replica is not handed to another; other chats go to the other in parallel", async (t) => {
  // No chats claimed ahead: a claim of one takes one chat (its records after the head too, held here).
  const a = await openPgStore(t, { replica: 'replica-a', claimAhead: 0 })
  const b = await openPgStore(t, { replica: 'replica-b', connectionString: a.connectionString, claimAhead: 0 })
  for (const [chat, text] of [[1, 'a1'], [1, 'a2'], [2, 'b1'], [3, 'c1']] as const) await a.append(newRecord(chat, text))
  const [a1] = (await a.queue.claim(1)) as [ClaimedRecord]
  t.equal(textOf(a1), 'a1')
  t.same(await claimTexts(b), ['b1', 'c1'], 'the other chats, not chat 1')
  t.same(await claimTexts(a), [], 'everything held')
  t.same(
    await sql(a.connectionString, "SELECT body, claimed_by FROM b24_inbox WHERE claimed_by IS NOT NULL ORDER BY id"),
    [
      { body: '{"text":"a1"}', claimed_by: 'replica-a' },
      { body: '{"text":"a2"}', claimed_by: 'replica-a' },
      { body: '{"text":"b1"}', claimed_by: 'replica-b' },
      { body: '{"text":"c1"}', claimed_by: 'replica-b' },
    ],
    "each claim names its replica; a chat's next records are claimed with its head, held by its replica",
  )
  await a.queue.complete(a1, null)
  t.same(
    await sql(a.connectionString, "SELECT body, claimed_by FROM b24_inbox WHERE chat_key = 'chat:1'"),
    [{ body: '{"text":"a2"}', claimed_by: 'replica-a' }],
    "once its head is handled, the chat's next is still held by the replica that claimed it with the head",
  )
  const [a2] = (await a.queue.claim(10)) as [ClaimedRecord]
  t.equal(textOf(a2), 'a2', 'and handed out there')
  await a.queue.release(a2)
  // Nothing announces a record given back to another replica: it finds it when it looks again (its poll interval).
  let next: string[] = []
  await eventually(async () => (next = await claimTexts(b)).length > 0)
  t.same(next, ['a2'], "given back, the chat's next goes to whichever claims")
})

t.test('replicas racing over many chats: every record handled once, each chat one at a time and in order', async (t) => {
  const url = await testDatabase(t)
  const replicas = await Promise.all(['r1', 'r2', 'r3'].map((replica) => openPgStore(t, { replica, connectionString: url })))
  const chats = 12
  const perChat = 8
  for (let i = 0; i < perChat; i++) await Promise.all(Array.from({ length: chats }, (_, chat) => replicas[0]?.append(newRecord(chat, `${chat}:${i}`))))
  const handled: string[] = []
  const holding = new Set<string>()
  let overlaps = 0
  const work = async (store: Store) => {
    for (let claimed = await store.queue.claim(4); ; claimed = await store.queue.claim(4)) {
      if (claimed.length === 0) {
        if (handled.length === chats * perChat) return
        await new Promise((resolve) => setImmediate(resolve))
        continue
      }
      await Promise.all(
        claimed.map(async (record) => {
          if (holding.has(record.chatKey)) overlaps++
          holding.add(record.chatKey)
          handled.push(textOf(record))
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 3))
          holding.delete(record.chatKey)
          await store.queue.complete(record, null)
        }),
      )
    }
  }
  await Promise.all(replicas.map(work))
  t.equal(overlaps, 0, 'no chat held by two replicas at once')
  t.equal(handled.length, chats * perChat)
  t.equal(new Set(handled).size, chats * perChat, 'none twice')
  for (let chat = 0; chat < chats; chat++) {
    t.same(
      handled.filter((text) => text.startsWith(`${chat}:`)),
      Array.from({ length: perChat }, (_, i) => `${chat}:${i}`),
      `chat ${chat} in order`,
    )
  }
})

t.test('a claim not renewed (its replica gone) expires after claimTimeoutMs, and another replica takes the record over', async (t) => {
  const url = await testDatabase(t)
  const a = await openPgStore(t, { connectionString: url, claimTimeoutMs: 2000 })
  const b = await openPgStore(t, { connectionString: url, claimTimeoutMs: 2000 })
  // Connected and migrated beforehand: its first claim below comes well within the claim's 2 s.
  await b.stats()
  await a.append(newRecord(1, 'mid-event'))
  await a.append(newRecord(1, 'next'))
  // Read before the claim: the claim's own clock is no earlier.
  const claimedAt = await dbNow(url)
  const [held] = (await a.queue.claim(10)) as [ClaimedRecord]
  // The replica dies mid-event: it stops renewing, and gives nothing back.
  await a.close()
  t.same(await b.queue.claim(10), [], 'not before the claim expires')
  let taken: ClaimedRecord[] = []
  await eventually(async () => (taken = await b.queue.claim(10)).length > 0)
  const takenAt = await dbNow(url)
  t.same(taken.map(unclaimed), [unclaimed(held)], 'the same record, as it was, not the next of its chat')
  t.ok(takenAt - claimedAt >= 2000, `taken over ${takenAt - claimedAt} ms after it was claimed`)
  await b.queue.complete(taken[0] as ClaimedRecord, null)
  t.same(await claimTexts(b), ['next'])
})

t.test('a claim held is renewed while held: another replica never takes it over', async (t) => {
  const url = await testDatabase(t)
  // Renewed every 500 ms: a renewal would have to come more than a second late for the claim to lapse.
  // No chats claimed ahead: the other chat is left to the other replica.
  const a = await openPgStore(t, { connectionString: url, claimTimeoutMs: 1500, claimAhead: 0 })
  const b = await openPgStore(t, { connectionString: url, claimTimeoutMs: 1500 })
  await a.append(newRecord(1, 'slow handler'))
  await a.append(newRecord(2, 'other chat'))
  const [held] = (await a.queue.claim(1)) as [ClaimedRecord]
  const claimedUntil = async () => Number((await sql<{ until: string }>(url, 'SELECT claimed_until AS until FROM b24_inbox WHERE id = $1', [held.id]))[0]?.until)
  const firstUntil = await claimedUntil()
  // A handler running past the claim's first deadline, by the database's clock: unrenewed, the
  // claim would have expired there. The other replica claims all along, and once more after it.
  const seenByB: string[] = []
  let claims = 0
  const claimByB = async () => {
    seenByB.push(...(await b.queue.claim(10)).map(textOf))
    claims++
  }
  while ((await dbNow(url)) <= firstUntil) await claimByB()
  await claimByB()
  t.same(seenByB, ['other chat'], `never the held record, in ${claims} claims, the last past its first deadline`)
  t.ok((await claimedUntil()) > firstUntil, 'renewed: it lasts past its first deadline')
  const [row] = (await sql<{ claimed_by: string; left: number }>(url, `SELECT claimed_by, claimed_until - (extract(epoch from clock_timestamp()) * 1000)::bigint AS left FROM b24_inbox WHERE id = $1`, [held.id])) as [{ claimed_by: string; left: number }]
  t.ok(Number(row.left) > 0 && Number(row.left) <= 1500, `still claimed, for ${row.left} ms more`)
  await a.queue.complete(held, null)
  await a.append(newRecord(1, 'after'))
  // Told by the append's notification, which may come a moment after the append resolves.
  let after: string[] = []
  await eventually(async () => (after = await claimTexts(b)).length > 0)
  t.same(after, ['after'], 'once complete, its chat goes on anywhere')
})

t.test('a record released goes back at once; one released while the database cannot be reached is given back by its timeout', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  // Its claims last a minute: what another replica gets within the test, it got by a release.
  const a = await openPgStore(t, { connectionString: url, claimTimeoutMs: 60000, pollIntervalMs: 60000 })
  // It looks again every 50 ms: nothing announces a claim expired on another replica.
  const b = await openPgStore(t, { connectionString: url, pollIntervalMs: 50 })
  await a.append(newRecord(1, 'x'))
  const [record] = (await a.queue.claim(10)) as [ClaimedRecord]
  await a.queue.release(record)
  let taken = await b.queue.claim(10)
  t.same(taken.map(unclaimed), [unclaimed(record)], 'released: claimable by another replica once the release resolves')
  await b.queue.release(taken[0] as ClaimedRecord)

  // A replica that cannot reach the database when it releases.
  const c = await openPgStore(t, { connectionString: through, claimTimeoutMs: 400, pollIntervalMs: 60000 })
  let held: ClaimedRecord[] = []
  await eventually(async () => (held = await c.queue.claim(10)).length === 1)
  let told = 0
  c.queue.onAvailable(() => told++)
  proxy.cut()
  await t.resolves(c.queue.release(held[0] as ClaimedRecord), 'the release fails quietly')
  t.ok(told > 0, 'and says so: the worker may claim again')
  const until = Number((await sql<{ until: string }>(url, 'SELECT claimed_until AS until FROM b24_inbox WHERE id = $1', [record.id]))[0]?.until)
  const from = await dbNow(url)
  t.ok(until - from <= 400, `the claim ends by its timeout: ${until - from} ms after the release failed`)
  await eventually(async () => (taken = await b.queue.claim(10)).length > 0)
  const takenAt = await dbNow(url)
  t.same(taken.map(unclaimed), [unclaimed(record)])
  t.ok(takenAt >= until, 'taken over once it expired, not before')
  // The renewals of a replica that cannot reach the database fail quietly too: nothing is held now.
  proxy.restore()
  await c.close()
})

t.test('renewals that fail while the database is away are tried again, and a claim outlives a short outage', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  // Renewed every 500 ms: after a renewal failed, the claim has a second left to be renewed.
  const a = await openPgStore(t, { connectionString: through, claimTimeoutMs: 1500 })
  const b = await openPgStore(t, { connectionString: url })
  await a.append(newRecord(1, 'held'))
  const [held] = (await a.queue.claim(10)) as [ClaimedRecord]
  const until = async () => Number((await sql<{ until: string }>(url, 'SELECT claimed_until AS until FROM b24_inbox WHERE id = $1', [held.id]))[0]?.until)
  proxy.cut()
  // Only renewals query through `a` now: its store says so once one has failed.
  await eventually(() => a.unavailable() !== null)
  t.match(a.unavailable(), /PostgreSQL cannot be used/, 'a renewal failed while the database was away')
  t.same(await b.queue.claim(10), [], 'still held meanwhile')
  const before = await until()
  proxy.restore()
  await eventually(async () => a.unavailable() === null && (await until()) > before)
  t.pass('renewed again once the database is back')
  t.same(await b.queue.claim(10), [], 'and never taken over')
})

t.test('an idle replica hears of a new event from another at once, not after its poll interval', async (t) => {
  const url = await testDatabase(t)
  const pollIntervalMs = 60000
  const a = await openPgStore(t, { connectionString: url, pollIntervalMs })
  const b = await openPgStore(t, { connectionString: url, pollIntervalMs })
  t.same(await b.queue.claim(10), [], 'idle, its wake-up a minute away')
  await eventually(async () => (await listening(url)) === 2)
  const delays: number[] = []
  for (let i = 0; i < 5; i++) {
    const heard = new Promise<number>((resolve) => {
      const stop = b.queue.onAvailable(() => {
        stop()
        resolve(performance.now())
      })
    })
    const start = performance.now()
    await a.append(newRecord(i, `m${i}`))
    delays.push((await heard) - start)
    t.same(await claimTexts(b), [`m${i}`])
    // Woken by its poll, not told: no use waiting a minute for each of the others.
    if ((delays.at(-1) as number) >= pollIntervalMs / 10) break
  }
  // Told by the notification: milliseconds, where its own wake-up would have come after a minute
  // (a machine busy with other work may stretch the milliseconds, never to seconds).
  t.ok(Math.max(...delays) < pollIntervalMs / 10, `heard after ${delays.map((delay) => delay.toFixed(1)).join(', ')} ms (the poll interval is 60 s)`)
})

t.test('an idle replica looks again every pollIntervalMs: it finds what no notification announced', async (t) => {
  const url = await testDatabase(t)
  const a = await openPgStore(t, { connectionString: url, pollIntervalMs: 50 })
  // As the worker does: claims whenever the queue says something may be new.
  const claimed: StoredRecord[] = []
  a.queue.onAvailable(async () => claimed.push(...(await a.queue.claim(10))))
  t.same(await a.queue.claim(10), [])
  // Stored without a notification (a retry come due, a claim expired on another replica are not announced).
  await sql(url, `INSERT INTO b24_inbox (chat_key, type, source, portal_json, body_kind, body, received_at, next_at)
    VALUES ('chat:1', 'ONIMV2MESSAGEADD', 'webhook', '{}', 'payload', '{"text":"unannounced"}', 0, 0)`)
  await eventually(() => claimed.length > 0)
  t.same(claimed.map(textOf), ['unannounced'])
})
