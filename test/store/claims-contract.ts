import type { Test } from 'tap'
import type { ClaimedRecord } from '../../src/store/store.ts'
import { newRecord, textOf } from '../fakes/new-record.ts'
import type { ContractSubject } from './store-contract.ts'

/**
 * Fenced claims, as every store keeps them: an outcome written with a claim that is no longer the
 * record's (given back and claimed again since) changes nothing and says so (`false`); the claim
 * the record holds now writes as usual. How a claim lapses is each store's own (PostgreSQL's by its
 * timeout: test/store/postgres/fenced-claims.test.ts); a release followed by a claim is common to all.
 */
export function claimsContract(t: Test, subject: ContractSubject): void {
  t.test('an outcome written with a claim given back since changes nothing, and says so', async (t) => {
    const store = await subject.open(t)
    await store.append(newRecord(1, 'head'))
    await store.append(newRecord(1, 'next'))
    const [stale] = (await store.queue.claim(1)) as [ClaimedRecord]
    t.equal(await store.queue.release(stale), true, 'given back')
    const [fresh] = (await store.queue.claim(1)) as [ClaimedRecord]
    t.equal(fresh.id, stale.id, 'claimed again')
    t.not(fresh.token, stale.token, 'under another claim')
    t.equal(await store.queue.complete(stale, 'key:stale'), false, 'complete: refused')
    t.equal(await store.queue.retry(stale, 1, Date.now(), 'Error: stale'), false, 'retry: refused')
    t.equal(await store.queue.bury(stale, 1, 'Error: stale'), false, 'bury: refused')
    t.equal(await store.queue.release(stale), false, 'release: refused')
    t.equal(await store.queue.seen('key:stale'), false, 'no key kept')
    t.same(await store.queue.claim(5), [], 'the chat is still held, by the claim it has now')
    t.same(await store.deadLetters.list(), [], 'nothing in the dead letter')
    t.notOk(fresh.lost.aborted || stale.lost.aborted, 'nothing lapsed: neither claim was told it was lost')
    t.equal(await store.queue.complete(fresh, null), true, 'the current claim writes')
    t.same((await store.queue.claim(5)).map(textOf), ['next'], 'and the chat goes on, in order')
  })

  t.test('a claim with a token never given is refused', async (t) => {
    const store = await subject.open(t)
    await store.append(newRecord(1, 'x'))
    const [record] = (await store.queue.claim(1)) as [ClaimedRecord]
    const forged = { id: record.id, token: record.token + 7919 }
    t.equal(await store.queue.complete(forged, null), false)
    t.equal(await store.queue.release({ id: record.id + 1000, token: record.token }), false, 'nor one of a record not held')
    t.equal(await store.queue.complete(record, null), true)
  })

  t.test('a claim skips the portals it is told to (their share of the worker is under way), and they come back once not', async (t) => {
    const store = await subject.open(t)
    // Chat keys `chat:PORTAL:CHAT`, as the doors make them (newRecord prefixes `chat:`).
    await store.append(newRecord('busy:1', 'busy one'))
    await store.append(newRecord('busy:2', 'busy two'))
    await store.append(newRecord('other:1', 'other one'))
    const first = await store.queue.claim(5, new Set(['busy']))
    t.same(first.map(textOf), ['other one'], 'only the portal not skipped, though the skipped one is older')
    const later = await store.queue.claim(5)
    t.same(later.map(textOf), ['busy one', 'busy two'], 'skipped no more: its records are claimed, oldest first')
    for (const record of [...first, ...later]) t.equal(await store.queue.complete(record, null), true)
  })

  t.test('records a store claimed ahead are handed out skipping the same portals', async (t) => {
    const store = await subject.open(t)
    await store.append(newRecord('busy:1', 'busy one'))
    await store.append(newRecord('busy:2', 'busy two'))
    await store.append(newRecord('other:1', 'other one'))
    const first = await store.queue.claim(1)
    t.same(first.map(textOf), ['busy one'])
    const second = await store.queue.claim(5, new Set(['busy']))
    t.same(second.map(textOf), ['other one'], 'the busy portal skipped')
    const third = await store.queue.claim(5)
    t.same(third.map(textOf), ['busy two'])
    for (const record of [...first, ...second, ...third]) t.equal(await store.queue.complete(record, null), true)
  })
}
