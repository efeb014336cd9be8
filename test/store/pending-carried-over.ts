import type { Test } from 'tap'
import type { Store } from '../../src/store/store.ts'
import { textOf } from '../fakes/new-record.ts'
import { eventually } from '../helpers.ts'
import { candidatesOf } from './candidates-contract.ts'
import { drain, portalRow } from './store-contract.ts'

// What a release before candidates left, the same in either store (each writes it in its own SQL):
// an unconfirmed install kept as a `pending` portal row, its events waiting in the inbox, beside a
// confirmed portal, a dead letter and a polled event of the pending portal.

export const PORTAL_COLUMNS = 'member_id, domain, client_endpoint, status, scope, version, application_token, tokens, expires_at, installed_at, updated_at'

const portalJson = (memberId: string) => JSON.stringify({ domain: `${memberId}.bitrix24.com`, memberId, clientEndpoint: null })

/** `[member_id, domain, client_endpoint, status, application_token, tokens, installed_at]`. */
export const OLD_PORTALS = [
  ['active-1', 'active-1.bitrix24.com', 'https://active-1.bitrix24.com/rest/', 'active', 'hash-a', 'v1.sealed-a', 1767225600000],
  ['pending-1', 'pending-1.bitrix24.com', 'https://pending-1.bitrix24.com/rest/', 'pending', 'hash-p', 'v1.sealed-p', 1767225700000],
] as const

/** `[status, chat_key, type, source, received_at, next_at, attempts, portal_json, body, credentials]`. */
export const OLD_EVENTS = [
  ['pending', 'chat:p:1', 'ONAPPINSTALL', 'webhook', 1000, 1000, 4, portalJson('pending-1'), '{"text":"install"}', 'sealed-1'],
  ['pending', 'chat:a:1', 'ONIMV2MESSAGEADD', 'webhook', 1100, 1100, 0, portalJson('active-1'), '{"text":"active event"}', 'sealed-2'],
  ['pending', 'chat:p:1', 'ONIMV2MESSAGEADD', 'webhook', 1200, 9000, 2, portalJson('pending-1'), '{"text":"pending event"}', null],
  ['dead', 'chat:p:2', 'ONIMV2MESSAGEADD', 'webhook', 1300, 1300, 8, portalJson('pending-1'), '{"text":"dead letter"}', 'sealed-4'],
  ['pending', 'chat:p:3', 'ONIMV2MESSAGEADD', 'poll', 1400, 1400, 0, portalJson('pending-1'), '{"text":"polled"}', null],
] as const

/**
 * Checks `store`, opened on what {@link OLD_PORTALS} and {@link OLD_EVENTS} left: the pending install
 * is a candidate with its waiting webhook events; the rest stays where it was. `refusesPending`
 * checks the table refuses a pending row now. Then confirms it: its events join the inbox in order.
 */
export async function checkCarriedOver(t: Test, store: Store, refusesPending: () => Promise<void>): Promise<void> {
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
  t.same((await store.portals?.list())?.map((row) => row.memberId), ['active-1'], 'the portals are the confirmed installs only')
  t.same((await store.deadLetters.list()).map((letter) => letter.body), [{ text: 'dead letter' }])
  t.same((await drain(store)).map(textOf), ['active event', 'polled'])
  await refusesPending()

  let told = 0
  store.queue.onAvailable(() => told++)
  t.equal(await candidates.confirm(candidate?.id as number, portalRow('pending-1')), true)
  // Its events are in the inbox once the queue says so (PostgreSQL's, by the notification).
  await eventually(() => told > 0)
  const released = await drain(store)
  t.same(released.map(textOf), ['install', 'pending event'], 'confirmed, its events are handled in the order they came')
  t.match(released, [
    { type: 'ONAPPINSTALL', chatKey: 'chat:p:1', receivedAt: 1000, attempts: 0, credentials: 'sealed-1' },
    { type: 'ONIMV2MESSAGEADD', receivedAt: 1200, credentials: null },
  ])
}
