import type { Test } from 'tap'
import type { Portals, Store } from '../../src/store/store.ts'
import { textOf } from '../fakes/new-record.ts'
import { candidatesOf } from './candidates-contract.ts'
import type { FormattedTable } from './format-contract.ts'
import { drain, portalRow } from './store-contract.ts'
import { PORTAL_COLUMNS } from './pending-carried-over.ts'

// What a release before formats left, the same in either store (PostgreSQL's tables named with
// `b24_` before): a row in every table that carries a format now.

const portalJson = JSON.stringify({ domain: 'm1.bitrix24.com', memberId: 'm1', clientEndpoint: null })
const INBOX = 'INTO inbox (status, chat_key, type, source, received_at, next_at, attempts, last_error, portal_json, body_kind, body, credentials) VALUES'
/** When the lease of {@link OLD_ROWS} expires (each store writes it in its own SQL: SQLite's name the process too). */
export const LEASE_UNTIL = 4102444800000

/** Statements as that release's SQL wrote its rows, one per row, in either store's dialect; and a lease `poll:im` of `replica-a`. */
export const OLD_ROWS = [
  `INSERT ${INBOX} ('pending', 'chat:1', 'ONIMV2MESSAGEADD', 'webhook', 1000, 1000, 0, NULL, '${portalJson}', 'payload', '{"text":"pending"}', 'sealed')`,
  `INSERT ${INBOX} ('dead', 'chat:2', 'ONIMV2MESSAGEADD', 'webhook', 1100, 1100, 5, 'Error: down', '${portalJson}', 'payload', '{"text":"dead"}', NULL)`,
  `INSERT INTO portals (${PORTAL_COLUMNS}) VALUES ('m1', 'm1.bitrix24.com', 'https://m1.bitrix24.com/rest/', 'active', 'imbot,im', '3', 'hash-of-app-token-m1', 'v1.sealed-tokens-m1', 1767229200000, 1767225600000, 1767225600123)`,
  `INSERT INTO candidates (member_id, domain, client_endpoint, scope, version, application_token, tokens, expires_at, received_at) VALUES ('m2', 'm2.bitrix24.com', 'https://m2.bitrix24.com/rest/', NULL, '1', 'hash-2', 'v1.sealed-2', NULL, 1200)`,
  `INSERT INTO candidate_events (candidate_id, chat_key, type, source, received_at, portal_json, body_kind, body, credentials) VALUES (1, 'chat:3', 'ONAPPINSTALL', 'webhook', 1200, '${portalJson}', 'payload', '{"text":"install"}', NULL)`,
  `INSERT INTO meta (key, value) VALUES ('poll:im', '12')`,
]

const TABLES: FormattedTable[] = ['inbox', 'candidates', 'candidate_events', 'portals', 'meta', 'leases']

/**
 * Checks `store`, opened on what {@link OLD_ROWS} left: every row of every table is format 1
 * (`formats`: the distinct formats of a table), and the store reads each as it did before.
 */
export async function checkFormatOne(t: Test, store: Store, formats: (table: FormattedTable) => Promise<number[]>): Promise<void> {
  t.same((await drain(store)).map(textOf), ['pending'], 'the pending record is handed out')
  for (const table of TABLES) t.same(await formats(table), [1], `${table}: format 1`)
  t.same((await store.deadLetters.list()).map((letter) => letter.body), [{ text: 'dead' }], 'the dead letter is listed')
  t.strictSame(await (store.portals as Portals).get('m1'), portalRow('m1'), 'the portal read')
  t.match(await candidatesOf(store).list(), [{ memberId: 'm2' }], 'the candidate listed')
  t.equal(await store.meta.get('poll:im'), '12', 'the value read')
  t.equal(await store.leases.holder('poll:im'), 'replica-a', 'the lease held')
  t.match(await store.stats(), { deadLetters: 1, newerFormat: { records: 0, candidates: 0, portals: 0, values: 0 } })
}
