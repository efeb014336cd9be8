import type { Test } from 'tap'
import type { PortalRow } from '../../schemas/portal.ts'
import type { ClaimedRecord, Portals, Store, StoredRecord } from '../../src/store/store.ts'
import { newRecord, PORTAL, textOf, unclaimed } from '../fakes/new-record.ts'
import { eventually } from '../helpers.ts'

/** The settings every store takes, in the units the contract needs. */
export interface ContractOptions {
  /** How long a handled key is seen. */
  dedupWindowMs?: number
  /** How often an idle queue looks by itself: set high where a test proves something else woke it. */
  pollIntervalMs?: number
}

/** How the contract gets the stores it tests. */
export interface ContractSubject {
  /** A store on fresh, empty storage, closed at the end of `t` unless the test closed it. */
  open(t: Test, options?: ContractOptions): Promise<Store>
  /** Another store on the storage of `store`: a restart once `store` is closed. Closed at the end of `t`. */
  reopen(t: Test, store: Store, options?: ContractOptions): Promise<Store>
}

const FORM = 'event=ONIMBOTV2MESSAGEADD&data%5BPARAMS%5D%5BMESSAGE%5D=hi'

/** Claims everything due and returns the texts, in the order claimed. */
export const claimTexts = async (store: Store, limit = 100): Promise<string[]> => (await store.queue.claim(limit)).map(textOf)

/** Claims and completes until nothing is due; the records in the order they were handed out. */
export async function drain(store: Store): Promise<StoredRecord[]> {
  const handled: StoredRecord[] = []
  for (let claimed = await store.queue.claim(100); claimed.length > 0; claimed = await store.queue.claim(100)) {
    for (const record of claimed) {
      handled.push(record)
      await store.queue.complete(record, null)
    }
  }
  return handled
}

/**
 * Resolves with the first claim that hands something out, claiming each time the queue says
 * something may be new, and once at the start; rejects after `timeoutMs`.
 */
export function nextClaim(store: Store, timeoutMs = 3000): Promise<ClaimedRecord[]> {
  return new Promise((resolve, reject) => {
    let claiming = false
    const timer = setTimeout(() => {
      unsubscribe()
      reject(new Error('the queue never handed anything out'))
    }, timeoutMs)
    const attempt = async () => {
      if (claiming) return
      claiming = true
      const claimed = await store.queue.claim(100)
      claiming = false
      if (claimed.length === 0) return
      unsubscribe()
      clearTimeout(timer)
      resolve(claimed)
    }
    const unsubscribe = store.queue.onAvailable(() => void attempt())
  })
}

/** What `stats().newerFormat` says of a store where nothing was written by a newer version. */
export const NONE_NEWER = { records: 0, candidates: 0, portals: 0, values: 0 }

/** A record's `receivedAt` is told by the store's clock (PostgreSQL's, rounded to the ms): within a ms of this host's. */
const within = (value: number, from: number, to: number) => value >= from - 1 && value <= to + 1

/** A portal as application mode stores it: sealed tokens and a hash are plain text here, the store never looks inside. */
export const portalRow = (memberId: string, extra: Partial<PortalRow> = {}): PortalRow => ({
  memberId,
  domain: `${memberId}.bitrix24.com`,
  clientEndpoint: `https://${memberId}.bitrix24.com/rest/`,
  status: 'active',
  scope: 'imbot,im',
  version: '3',
  applicationToken: `hash-of-app-token-${memberId}`,
  tokens: `v1.sealed-tokens-${memberId}`,
  expiresAt: 1767229200000,
  installedAt: 1767225600000,
  updatedAt: 1767225600123,
  ...extra,
})

/** The store's portals: both built-in stores have them. */
function portalsOf(store: Store): Portals {
  if (!store.portals) throw new Error('the store keeps no portals')
  return store.portals
}

/**
 * The semantics of the {@link Store} interface that every store keeps, registered as subtests of
 * `t`: run by test/store/sqlite/store-contract.test.ts and test/store/postgres/store-contract.test.ts.
 * What a store does beyond it (SQLite's pid-based leases, PostgreSQL's replicas) is tested with the store.
 */
export function storeContract(t: Test, subject: ContractSubject): void {
  const { open, reopen } = subject

  t.test('stores a record and hands it back whole, credentials included, here and after a restart', async (t) => {
    const store = await open(t)
    const before = Date.now()
    t.equal(await store.append(newRecord(1, 'hello', { credentials: 'v1.sealed' })), undefined)
    const after = Date.now()
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
    t.type(stored.receivedAt, 'number')
    t.ok(within(stored.receivedAt, before, after), 'received when it was appended')
    await store.queue.release(claimed)
    await store.close()
    const reopened = await reopen(t, store)
    t.same((await reopened.queue.claim(10)).map(unclaimed), [stored], 'read back as it was handed out')
  })

  t.test('keeps every kind of body and door as it came, and a record without credentials', async (t) => {
    const store = await open(t)
    await store.append(newRecord(1, 'form', { bodyKind: 'form', body: FORM, credentials: null }))
    await store.append(newRecord(2, 'polled', { source: 'poll', type: 'ONIMBOTJOINCHAT', chatKey: 'solo:member-1:ONIMBOTJOINCHAT' }))
    await store.append(newRecord(3, 'legacy', { bodyKind: 'event' }))
    t.match(await store.queue.claim(10), [
      { chatKey: 'chat:1', bodyKind: 'form', body: FORM, credentials: null, source: 'webhook' },
      { chatKey: 'solo:member-1:ONIMBOTJOINCHAT', type: 'ONIMBOTJOINCHAT', source: 'poll', bodyKind: 'payload', body: '{"text":"polled"}', credentials: 'sealed-credentials' },
      { chatKey: 'chat:3', bodyKind: 'event', body: '{"text":"legacy"}' },
    ])
  })

  t.test('hands out the oldest record of each chat nobody holds, oldest first, up to the limit', async (t) => {
    const store = await open(t)
    for (const [chat, text] of [[1, 'a1'], [2, 'b1'], [1, 'a2'], [3, 'c1'], [2, 'b2']] as const) await store.append(newRecord(chat, text))
    t.same(await store.queue.claim(0), [], 'a limit of none')
    t.same(await claimTexts(store, 2), ['a1', 'b1'], 'the limit')
    t.same(await claimTexts(store), ['c1'], 'a held chat hands out nothing else')
    t.same(await claimTexts(store), [])
  })

  t.test('across chats the oldest record comes first, whatever order the chats came in', async (t) => {
    const store = await open(t)
    await store.append(newRecord(1, 'A'))
    const [a] = (await store.queue.claim(10)) as [ClaimedRecord]
    await store.queue.bury(a, 1, 'Error: down')
    await store.append(newRecord(2, 'B'))
    // A's chat comes back after B's, with a record older than B.
    await store.deadLetters.revive(a.id)
    t.same(await claimTexts(store, 1), ['A'])
    t.same(await claimTexts(store, 1), ['B'])
  })

  t.test('a dead letter revived into a held chat waits until the chat is free', async (t) => {
    const store = await open(t)
    await store.append(newRecord(1, 'A'))
    const [a] = (await store.queue.claim(10)) as [ClaimedRecord]
    await store.queue.bury(a, 1, 'Error: down')
    await store.append(newRecord(1, 'B'))
    const [b] = (await store.queue.claim(10)) as [ClaimedRecord]
    await store.deadLetters.revive(a.id)
    t.same(await claimTexts(store), [], 'the chat is held: its revived head waits')
    await store.queue.complete(b, null)
    t.same(await claimTexts(store), ['A'], 'then it goes')
  })

  t.test("a chat is handed its next record once the one held is complete, retried, buried or released", async (t) => {
    const store = await open(t)
    for (const [chat, text] of [[1, 'a1'], [1, 'a2'], [2, 'b1'], [2, 'b2'], [3, 'c1'], [3, 'c2'], [4, 'd1'], [4, 'd2']] as const) await store.append(newRecord(chat, text))
    const [a1, b1, c1, d1] = (await store.queue.claim(10)) as [ClaimedRecord, ClaimedRecord, ClaimedRecord, ClaimedRecord]
    t.same([a1, b1, c1, d1].map(textOf), ['a1', 'b1', 'c1', 'd1'])
    t.same(await claimTexts(store), [], 'every chat held')
    await store.queue.complete(a1, 'hook:a1')
    t.same(await claimTexts(store), ['a2'], 'complete: the next one')
    await store.queue.bury(b1, 3, 'Error: boom')
    t.same(await claimTexts(store), ['b2'], 'buried: the next one')
    await store.queue.retry(c1, 1, Date.now() + 60000, 'Error: boom')
    t.same(await claimTexts(store), [], 'a retry not due yet keeps its place at the head of its chat')
    await store.queue.release(d1)
    t.same((await store.queue.claim(10)).map(unclaimed), [unclaimed(d1)], 'released: the same record again, before the next of its chat')
    t.match(await store.stats(), { depth: 6, retrying: 1, deadLetters: 1 })
  })

  t.test('a released record is claimable again as it was, and the queue says so', async (t) => {
    const store = await open(t)
    let told = 0
    const unsubscribe = store.queue.onAvailable(() => told++)
    await store.append(newRecord(1, 'x'))
    await eventually(() => told >= 1)
    const [record] = (await store.queue.claim(10)) as [ClaimedRecord]
    const before = told
    await store.queue.release(record)
    t.ok(told > before, 'told once it is given back')
    const [again] = (await store.queue.claim(10)) as [ClaimedRecord]
    t.same([again].map(unclaimed), [unclaimed(record)], 'claimable once the release resolves')
    unsubscribe()
    const after = told
    await store.queue.release(again)
    t.same((await store.queue.claim(10)).map(unclaimed), [unclaimed(record)])
    t.equal(told, after, 'not after unsubscribing')
  })

  t.test('a retry is claimable when due, with its attempts, and the queue says so then', async (t) => {
    // Nothing else wakes it: not the poll interval.
    const store = await open(t, { pollIntervalMs: 60000 })
    await store.append(newRecord(1, 'flaky'))
    const [record] = (await store.queue.claim(10)) as [ClaimedRecord]
    const nextAt = Date.now() + 100
    await store.queue.retry(record, 1, nextAt, 'Error: boom')
    t.same(await store.queue.claim(10), [], 'not before it is due')
    const [again] = await nextClaim(store)
    t.ok(Date.now() >= nextAt - 1, 'once due')
    t.same(unclaimed(again as ClaimedRecord), { ...unclaimed(record), attempts: 1 }, 'read back, as it was stored, with its attempts')
  })

  t.test('remembers the key of a handled record for the dedup window: seen, then not', async (t) => {
    // A window long enough to still be open after the checks below on a loaded machine.
    const store = await open(t, { dedupWindowMs: 1000 })
    for (const text of ['a', 'b', 'c']) await store.append(newRecord(1, text))
    t.equal(await store.queue.seen('hook:a'), false, 'nothing handled yet')
    const [a] = (await store.queue.claim(10)) as [ClaimedRecord]
    // The window starts when the store completes the record: not before the call.
    const completing = Date.now()
    await store.queue.complete(a, 'hook:a')
    t.equal(await store.queue.seen('hook:a'), true)
    t.equal(await store.queue.seen('hook:b'), false, 'another key is another event')
    const [b] = (await store.queue.claim(10)) as [ClaimedRecord]
    await store.queue.complete(b, null)
    t.equal(await store.queue.seen('null'), false, 'no key: nothing remembered')
    t.same(await claimTexts(store), ['c'], 'a completed record is gone from its line')
    await eventually(async () => !(await store.queue.seen('hook:a')), 10_000)
    t.ok(Date.now() >= completing + 1000 - 5, 'seen for the window')
  })

  t.test('handling the same key again starts its window again', async (t) => {
    const store = await open(t, { dedupWindowMs: 1000 })
    await store.append(newRecord(1, 'a'))
    await store.append(newRecord(1, 'a again'))
    const [a] = (await store.queue.claim(10)) as [ClaimedRecord]
    await store.queue.complete(a, 'hook:a')
    const firstAt = Date.now()
    const [again] = (await store.queue.claim(10)) as [ClaimedRecord]
    // The same event handled again (a double delivery the worker did not recognise), late in its window.
    await eventually(() => Date.now() >= firstAt + 600)
    const renewing = Date.now()
    await store.queue.complete(again, 'hook:a')
    await eventually(async () => !(await store.queue.seen('hook:a')), 10_000)
    t.ok(Date.now() >= renewing + 1000 - 5, 'seen for a window from the second time')
  })

  t.test('dead letters: listed and shown without credentials, whole for a replay, revived, dropped', async (t) => {
    const store = await open(t)
    await store.append(newRecord(1, 'handler down', { credentials: 'v1.sealed-secret' }))
    await store.append(newRecord('x', 'form', { bodyKind: 'form', body: FORM }))
    await store.append(newRecord(2, 'pending'))
    const [failed, form, pending] = (await store.queue.claim(10)) as [ClaimedRecord, ClaimedRecord, ClaimedRecord]
    t.same(await store.deadLetters.list(), [], 'none yet')
    await store.queue.bury(failed, 8, 'Error: handler down')
    await store.queue.bury(form, 1, 'FORM_TOO_LARGE: more than 10 pairs')

    const letters = await store.deadLetters.list()
    t.same(letters, [
      { id: failed.id, type: 'ONIMV2MESSAGEADD', receivedAt: new Date(failed.receivedAt).toISOString(), attempts: 8, error: 'Error: handler down', source: 'webhook', portal: PORTAL, bodyKind: 'payload', body: { text: 'handler down' } },
      { id: form.id, type: 'ONIMV2MESSAGEADD', receivedAt: new Date(form.receivedAt).toISOString(), attempts: 1, error: 'FORM_TOO_LARGE: more than 10 pairs', source: 'webhook', portal: PORTAL, bodyKind: 'form', body: FORM },
    ])
    t.notOk(JSON.stringify(letters).includes('sealed'), 'no credential in what is printed')
    t.same(await store.deadLetters.get(form.id), letters[1])
    t.notOk(JSON.stringify(await store.deadLetters.get(failed.id)).includes('sealed'))
    t.equal(await store.deadLetters.get(999999), null)
    t.equal(await store.deadLetters.get(pending.id), null, 'a pending record is no dead letter')
    t.equal(await store.deadLetters.record(pending.id), null)
    t.same(await store.deadLetters.record(failed.id), { ...unclaimed(failed), attempts: 8 }, 'whole, sealed credentials included')
    t.equal(await store.deadLetters.record(999999), null)
    t.match(await store.stats(), { depth: 1, deadLetters: 2 })

    let told = 0
    store.queue.onAvailable(() => told++)
    await store.deadLetters.revive(form.id)
    await eventually(() => told > 0)
    t.same((await store.queue.claim(10)).map(unclaimed), [{ ...unclaimed(form), attempts: 0 }], 'back in line as it came, attempts reset, claimable')
    t.equal(await store.deadLetters.get(form.id), null)
    await store.deadLetters.revive(999999)
    await store.deadLetters.revive(form.id)
    t.match(await store.stats(), { depth: 2, retrying: 0, deadLetters: 1 }, 'nothing else rejoins')

    t.equal(await store.deadLetters.drop(pending.id), false, 'never a pending record')
    t.equal(await store.deadLetters.drop(failed.id), true)
    t.equal(await store.deadLetters.drop(failed.id), false, 'once')
    t.equal(await store.deadLetters.record(failed.id), null)
    t.same(await store.deadLetters.list(), [])
    t.match(await store.stats(), { depth: 2, deadLetters: 0 })
  })

  t.test('retention: dead letters purged by the age of their last attempt, oldest first, a batch at a time; nothing pending', async (t) => {
    const store = await open(t)
    for (const text of ['a', 'b', 'c', 'd']) await store.append(newRecord(text, text, { credentials: 'v1.sealed' }))
    await store.append(newRecord('p', 'pending'))
    const claimed = (await store.queue.claim(10)) as ClaimedRecord[]
    const [a, b, c, d] = claimed as [ClaimedRecord, ClaimedRecord, ClaimedRecord, ClaimedRecord]
    for (const record of [a, b, c, d]) await store.queue.bury(record, 8, 'Error: handler down')
    // Their last attempt came due as they arrived (a first attempt); one is replayed later and fails again.
    const arrived = Date.now()
    await eventually(() => Date.now() > arrived + 2)
    const cut = Date.now()
    await eventually(() => Date.now() > cut + 2)
    await store.deadLetters.revive(a.id)
    const [again] = (await store.queue.claim(10)) as [ClaimedRecord]
    t.equal(again.id, a.id)
    await store.queue.bury(again, 1, 'Error: still down')

    t.equal(await store.deadLetters.purge(arrived - 60_000, 100), 0, 'none older than a minute before they came')
    t.equal(await store.deadLetters.purge(cut, 2), 2, 'a batch: the limit')
    t.equal(await store.deadLetters.purge(cut, 2), 1, 'the rest: fewer than the limit, none older is left')
    t.equal(await store.deadLetters.purge(cut, 2), 0)
    t.same((await store.deadLetters.list()).map((letter) => letter.id), [a.id], 'the one replayed and failed again is kept anew, whatever its arrival')
    t.match(await store.stats(), { depth: 1, deadLetters: 1 })
    t.equal(await store.deadLetters.purge(Date.now() + 60_000, 100), 1)
    t.same(await store.deadLetters.list(), [])
    t.same(await claimTexts(store), [], 'the pending record is still held, never purged')
    t.match(await store.stats(), { depth: 1, deadLetters: 0 })
  })

  t.test('retention: an uninstalled portal nothing refers to is purged once its uninstall is old enough; others kept', async (t) => {
    const store = await open(t)
    const portals = portalsOf(store)
    const old = 1767225600123
    const gone = { status: 'uninstalled' as const, applicationToken: null, tokens: null, expiresAt: null, updatedAt: old }
    await portals.put(portalRow('active-old', { updatedAt: old }))
    await portals.put(portalRow('reinstall-old', { status: 'reinstall', updatedAt: old }))
    await portals.put(portalRow('gone-old', gone))
    await portals.put(portalRow('gone-recent', { ...gone, updatedAt: Date.now() }))
    await portals.put(portalRow('gone-dead-letter', gone))
    await portals.put(portalRow('gone-pending', gone))
    await portals.put(portalRow('gone-installing', gone))
    const of = (memberId: string) => ({ ...PORTAL, memberId })
    await store.append(newRecord(1, 'dead', { portal: of('gone-dead-letter') }))
    const [dead] = (await store.queue.claim(10)) as [ClaimedRecord]
    await store.queue.bury(dead, 8, 'Error: handler down')
    await store.append(newRecord(2, 'waiting', { portal: of('gone-pending') }))
    const candidates = store.candidates
    if (!candidates) throw new Error('the store keeps no candidates')
    await candidates.add(
      { memberId: 'gone-installing', domain: 'gone-installing.bitrix24.com', clientEndpoint: 'https://gone-installing.bitrix24.com/rest/', scope: null, version: '3', applicationToken: 'hash', tokens: 'v1.sealed', expiresAt: null, receivedAt: Date.now() },
      newRecord(3, 'install', { portal: of('gone-installing') }),
      { perPortal: 3, total: 100 },
    )
    const ids = async () => (await portals.list()).map((row) => row.memberId)
    const all = ['active-old', 'gone-dead-letter', 'gone-installing', 'gone-old', 'gone-pending', 'gone-recent', 'reinstall-old']

    t.equal(await portals.purge(old), 0, 'not before its uninstall')
    t.same(await ids(), all)
    t.equal(await portals.purge(Date.now() - 60_000), 1, 'uninstalled long ago, nothing of it stored')
    t.same(await ids(), all.filter((id) => id !== 'gone-old'), 'active, needing a reinstall, uninstalled lately, or referred to: kept')
    t.equal(await portals.purge(Date.now() - 60_000), 0, 'once')

    t.equal(await store.deadLetters.drop(dead.id), true)
    t.equal(await portals.purge(Date.now() - 60_000), 1, 'its dead letter gone, the portal goes')
    t.equal(await portals.get('gone-dead-letter'), null)
    t.equal(await portals.purge(Date.now() + 60_000), 1, 'later: the one uninstalled lately too')
    t.same(await ids(), ['active-old', 'gone-installing', 'gone-pending', 'reinstall-old'], 'a waiting event or install still holds its portal')
  })

  t.test('keeps named values, and a lease is one owner’s until it expires or is given up', async (t) => {
    const store = await open(t)
    t.equal(await store.meta.get('offset'), null)
    await store.meta.set('offset', '10')
    await store.meta.set('offset', '12')
    await store.meta.set('other', 'x')
    t.equal(await store.meta.get('offset'), '12')
    t.equal(await store.meta.get('other'), 'x')

    t.equal(await store.leases.lease('poll:im', 'replica-a', 60000), true)
    t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), false, 'refused to another while held')
    t.equal(await store.leases.lease('poll:im', 'replica-a', 60000), true, 'renewed by its owner')
    t.equal(await store.leases.lease('poll:other', 'replica-b', 60000), true, 'another name is another lease')
    await store.leases.unlease('poll:im', 'replica-b')
    t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), false, 'only its owner gives it up')
    await store.leases.unlease('poll:im', 'replica-a')
    t.equal(await store.leases.lease('poll:im', 'replica-b', 60000), true, 'taken once given up')
    t.equal(await store.leases.lease('poll:im', 'replica-a', 60000), false, 'and held by its new owner')

    // An owner that stopped renewing: its lease expires.
    // Long enough to outlast the next call on a loaded machine.
    t.equal(await store.leases.lease('poll:dead', 'replica-a', 1000), true)
    t.equal(await store.leases.lease('poll:dead', 'replica-b', 60000), false, 'not before it expires')
    await eventually(() => store.leases.lease('poll:dead', 'replica-b', 60000), 10_000)
    t.equal(await store.leases.lease('poll:dead', 'replica-a', 60000), false, 'taken once expired')
  })

  t.test('tells its figures: depth, the oldest pending age, retries, dead letters', async (t) => {
    const store = await open(t)
    t.same(await store.stats(), { depth: 0, oldestPendingAgeMs: null, retrying: 0, deadLetters: 0, newerFormat: NONE_NEWER })
    for (const [chat, text] of [[1, 'a'], [2, 'b'], [3, 'c'], [3, 'c2']] as const) await store.append(newRecord(chat, text))
    const [a, b] = (await store.queue.claim(2)) as [ClaimedRecord, ClaimedRecord]
    await store.queue.retry(a, 1, Date.now() + 60000, 'Error: boom')
    await store.queue.bury(b, 3, 'Error: boom')
    t.same(await claimTexts(store), ['c'])
    const before = Date.now()
    const stats = await store.stats()
    const after = Date.now()
    t.match(stats, { depth: 3, retrying: 1, deadLetters: 1 }, 'running, waiting for a retry or for its turn, a pending record counts')
    t.ok(within(stats.oldestPendingAgeMs as number, before - a.receivedAt, after - a.receivedAt), `the age of a, the oldest (${stats.oldestPendingAgeMs} ms)`)
  })

  t.test('the appends of one turn are all committed, in the order they were made', async (t) => {
    const store = await open(t)
    const texts = Array.from({ length: 300 }, (_, i) => `m${i}`)
    const appended = await Promise.all(texts.map((text, i) => store.append(newRecord(i % 3, text))))
    t.equal(appended.length, 300)
    t.match(await store.stats(), { depth: 300 }, 'every one stored once it resolved')
    const handled = await drain(store)
    t.same(handled.map(textOf).sort(), [...texts].sort(), 'each once')
    for (const chat of [0, 1, 2]) {
      const line = handled.filter((record) => record.chatKey === `chat:${chat}`)
      t.same(line.map(textOf), texts.filter((_, i) => i % 3 === chat), `chat ${chat} in order`)
    }
    const ids = handled.map((record) => record.id)
    t.same([...ids].sort((x, y) => x - y), texts.map((text) => (handled.find((record) => textOf(record) === text) as StoredRecord).id), 'ids ascend with the appends')
  })

  t.test('stores a double delivery twice: the worker recognises it once decoded', async (t) => {
    const store = await open(t)
    await Promise.all([store.append(newRecord(1, 'twin')), store.append(newRecord(1, 'twin'))])
    await store.append(newRecord(1, 'twin'))
    const handled = await drain(store)
    t.same(handled.map(textOf), ['twin', 'twin', 'twin'])
    t.equal(new Set(handled.map((record) => record.id)).size, 3, 'three records')
  })

  t.test('tells whoever listens when a record is stored; not after unsubscribing', async (t) => {
    const store = await open(t, { pollIntervalMs: 60000 })
    let told = 0
    const unsubscribe = store.queue.onAvailable(() => told++)
    await store.append(newRecord(1, 'a'))
    await eventually(() => told > 0)
    unsubscribe()
    const before = told
    await store.append(newRecord(2, 'b'))
    t.same(await claimTexts(store), ['a', 'b'])
    t.equal(told, before)
  })

  t.test('a restart keeps what is pending, in order with its attempts, the keys seen, values and dead letters', async (t) => {
    const first = await open(t)
    for (const [chat, text] of [[1, 'a1'], [2, 'b1'], [1, 'a2'], [3, 'c1'], [4, 'dead']] as const) await first.append(newRecord(chat, text))
    const [a1, b1, c1, dead] = (await first.queue.claim(10)) as [ClaimedRecord, ClaimedRecord, ClaimedRecord, ClaimedRecord]
    await first.queue.retry(a1, 2, Date.now(), 'Error: boom')
    await first.queue.complete(c1, 'hook:c1')
    await first.queue.bury(dead, 3, 'Error: boom')
    await first.meta.set('offset', '42')
    await first.queue.release(b1)
    await first.close()
    const store = await reopen(t, first)
    t.equal(await store.queue.seen('hook:c1'), true, 'a key seen before')
    t.equal(await store.meta.get('offset'), '42')
    t.match(await store.deadLetters.list(), [{ id: dead.id, attempts: 3 }])
    t.match(await store.stats(), { depth: 3, retrying: 1, deadLetters: 1 })
    const claimed = await store.queue.claim(10)
    t.same(claimed.map(textOf), ['a1', 'b1'])
    t.match(claimed, [{ attempts: 2 }, { attempts: 0 }])
    for (const record of claimed) await store.queue.complete(record, null)
    t.same(await claimTexts(store), ['a2'])
  })

  t.test('closing: twice is fine, what was appended before is kept, a closed store refuses to store', async (t) => {
    const store = await open(t)
    const waiting = store.append(newRecord(1, 'appended before close'))
    await t.resolves(waiting)
    await store.close()
    await t.resolves(store.close(), 'twice is fine')
    await t.rejects(store.append(newRecord(1, 'after')), { name: 'StoreUnavailableError', statusCode: 503 })
    const reopened = await reopen(t, store)
    t.same(await claimTexts(reopened), ['appended before close'])
  })

  t.test('portals: one kept whole, every field and nulls too, here and after a restart', async (t) => {
    const store = await open(t)
    const portals = portalsOf(store)
    const whole = portalRow('a1b2c3')
    // As ONAPPUNINSTALL leaves one: every optional field null.
    const bare = portalRow('d4e5f6', { status: 'uninstalled', scope: null, version: null, applicationToken: null, tokens: null, expiresAt: null })
    t.equal(await portals.get('a1b2c3'), null, 'none yet')
    t.same(await portals.list(), [])
    t.equal(await portals.put(whole), undefined)
    await portals.put(bare)
    t.strictSame(await portals.get('a1b2c3'), whole)
    t.strictSame(await portals.get('d4e5f6'), bare, 'nulls read back as null')
    t.equal(await portals.get('unknown'), null)
    t.strictSame(await portals.list(), [whole, bare])
    await store.close()
    const reopened = portalsOf(await reopen(t, store))
    t.strictSame(await reopened.get('a1b2c3'), whole, 'after a restart')
    t.strictSame(await reopened.list(), [whole, bare])
  })

  t.test('portals: a put replaces the row of the same member whole (a reinstall)', async (t) => {
    const portals = portalsOf(await open(t))
    await portals.put(portalRow('m1', { status: 'uninstalled', applicationToken: null, tokens: null, expiresAt: null }))
    await portals.put(portalRow('m2'))
    const again = portalRow('m1', { domain: 'moved.bitrix24.com', clientEndpoint: 'https://moved.bitrix24.com/rest/', status: 'reinstall', scope: null, version: '4', applicationToken: 'hash-2', tokens: 'v1.sealed-2', expiresAt: 1767300000000, installedAt: 1767290000000, updatedAt: 1767290000000 })
    await portals.put(again)
    t.strictSame(await portals.get('m1'), again)
    t.strictSame(await portals.list(), [again, portalRow('m2')], 'one row per member; the other untouched')
  })

  t.test('portals: an update changes the fields given and nothing else', async (t) => {
    const portals = portalsOf(await open(t))
    const row = portalRow('m1')
    await portals.put(row)
    await portals.put(portalRow('m2'))
    t.equal(await portals.update('m1', { tokens: 'v1.refreshed', expiresAt: 1767232800000, updatedAt: 1767229300000 }), true)
    const refreshed = { ...row, tokens: 'v1.refreshed', expiresAt: 1767232800000, updatedAt: 1767229300000 }
    t.strictSame(await portals.get('m1'), refreshed, 'a refresh touches its tokens, not the version')
    t.equal(await portals.update('m1', { version: '4', scope: undefined, tokens: undefined }), true)
    t.strictSame(await portals.get('m1'), { ...refreshed, version: '4' }, 'a field set to undefined is not given: kept')
    t.equal(await portals.update('m1', { status: 'uninstalled', applicationToken: null, tokens: null, expiresAt: null, scope: null }), true)
    const uninstalled = { ...refreshed, version: '4', status: 'uninstalled', applicationToken: null, tokens: null, expiresAt: null, scope: null }
    t.strictSame(await portals.get('m1'), uninstalled, 'null sets null')
    const all = { domain: 'd.bitrix24.com', clientEndpoint: 'https://d.bitrix24.com/rest/', status: 'reinstall', scope: 'im', version: '5', applicationToken: 'hash-3', tokens: 'v1.sealed-3', expiresAt: 1, installedAt: 2, updatedAt: 3 } as const
    t.equal(await portals.update('m1', all), true)
    t.strictSame(await portals.get('m1'), { memberId: 'm1', ...all }, 'every field at once')
    t.equal(await portals.update('m1', {}), true, 'nothing given: nothing changed, the portal is there')
    t.strictSame(await portals.get('m1'), { memberId: 'm1', ...all })
    t.strictSame(await portals.get('m2'), portalRow('m2'), 'another portal untouched')
    t.equal(await portals.update('unknown', { status: 'active' }), false, 'no such portal')
    t.equal(await portals.update('unknown', {}), false)
    t.equal(await portals.get('unknown'), null, 'and none made')
  })

  t.test('portals: an update changes only fields of a portal, never its key, whatever else the patch holds', async (t) => {
    const portals = portalsOf(await open(t))
    await portals.put(portalRow('m1'))
    const patch = { memberId: 'm2', 'status = NULL --': 'x', constructor: 'x', version: '9' } as never
    t.equal(await portals.update('m1', patch), true)
    t.strictSame(await portals.list(), [portalRow('m1', { version: '9' })])
  })

  t.test('portals: a delete is true once, then false', async (t) => {
    const portals = portalsOf(await open(t))
    await portals.put(portalRow('m1'))
    await portals.put(portalRow('m2'))
    t.equal(await portals.delete('m1'), true)
    t.equal(await portals.get('m1'), null)
    t.equal(await portals.delete('m1'), false, 'once')
    t.equal(await portals.delete('unknown'), false)
    t.strictSame(await portals.list(), [portalRow('m2')], 'the other kept')
    t.equal(await portals.update('m1', { status: 'active' }), false, 'a deleted portal cannot be updated')
  })

  t.test('portals: listed by memberId, in byte order whatever the storage collates by', async (t) => {
    const portals = portalsOf(await open(t))
    const ids = ['f00d', 'b', 'B', '0a1', 'a', 'A9', '_x']
    for (const id of ids) await portals.put(portalRow(id))
    t.same((await portals.list()).map((row) => row.memberId), ['0a1', 'A9', 'B', '_x', 'a', 'b', 'f00d'])
  })

  t.test('portals: sealed tokens and hashes are stored as given, the store never looks inside', async (t) => {
    const portals = portalsOf(await open(t))
    // Anything a sealer or a digest could hand over, and what would trip a store that parsed or interpolated it.
    const tokens = `v1.${'A'.repeat(8000)}.'; DROP TABLE portals; --".\\n{"access_token":"x"} é ✓ 🔑`
    const hash = '{"not":"json"'
    const row = portalRow('m1', { tokens, applicationToken: hash, scope: '', version: ' 1.0 ' })
    await portals.put(row)
    t.strictSame(await portals.get('m1'), row)
    t.equal(await portals.update('m1', { tokens: `${tokens}?`, applicationToken: '' }), true)
    t.strictSame(await portals.get('m1'), { ...row, tokens: `${tokens}?`, applicationToken: '' }, 'an update too; an empty string is not null')
  })

  t.test('portals: a row or a patch off its schema is refused, naming no value, and nothing changes', async (t) => {
    const portals = portalsOf(await open(t))
    const row = portalRow('m1')
    await portals.put(row)
    const refused = { name: 'TypeError', message: /^not a portal (row|patch)/ }
    await t.rejects(portals.put({ ...row, status: 'gone', tokens: 'v1.new' } as never), refused, 'an unknown status')
    await t.rejects(portals.put(portalRow('m2', { domain: null, tokens: 'v1.new' } as never)), refused, 'a required field null')
    await t.rejects(portals.update('m1', { expiresAt: 1.5, tokens: 'v1.new' }), refused, 'a time not in whole ms')
    await t.rejects(portals.update('m1', { installedAt: null, tokens: 'v1.new' } as never), refused, 'a required field null')
    t.strictSame(await portals.list(), [row], 'nothing stored, nothing changed')
    t.equal(await portals.update('m1', { version: '4' }), true, 'the store goes on')
  })
}
