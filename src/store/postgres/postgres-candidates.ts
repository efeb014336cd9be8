import type pg from 'pg'
import type { CandidateRow, NewCandidate, PortalRow } from '../../../schemas/portal.ts'
import { assertNewCandidate, CANDIDATE_COLUMNS, NEW_CANDIDATE_FIELDS, pendingInstall, toCandidateRow, type CandidateColumns } from '../candidate-rows.ts'
import { STORED_FORMAT, type Formatted } from '../format.ts'
import { refuseNewer } from '../newer-format-error.ts'
import { A_PORTAL, assertPortalRow } from '../portal-rows.ts'
import { recordColumns } from '../rows.ts'
import type { CandidateAdded, CandidateAppend, CandidateBounds, Candidates, NewRecord } from '../store.ts'
import { lockChats } from './append-batcher.ts'
import { NOW_MS, type PostgresDatabase } from './postgres-database.ts'
import { portalValues, PUT_PORTAL } from './postgres-portals.ts'
import { changedUnlessNewer, type Guarded } from './unless-newer.ts'

/** Taken by every add, across replicas: the bounds are counted and kept by one add at a time (adds are few). */
const ADD_LOCK = 0x62323463 // "b24c"

const KNOWN = `format <= ${STORED_FORMAT}`
const SELECT = `SELECT ${Object.values(CANDIDATE_COLUMNS).join(', ')}, format FROM b24_candidates`
const NEW_COLUMNS = NEW_CANDIDATE_FIELDS.map((field) => CANDIDATE_COLUMNS[field])
const INSERT = `INSERT INTO b24_candidates (${NEW_COLUMNS.join(', ')}, format) VALUES (${NEW_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}, ${STORED_FORMAT}) RETURNING id`
const EVENT = `INSERT INTO b24_candidate_events (candidate_id, chat_key, type, source, portal_json, body_kind, body, credentials, format, received_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ${NOW_MS})`
// Into the inbox in the order they came, due now, their arrival times and formats kept. A chat's
// events held here are its only ones in the usual case (a portal with no confirmed install yet).
// Their chats locked first, as an append locks them: their ids are taken and committed in turn
// with the appends of the same chats on any replica.
const RELEASE = `WITH locked AS MATERIALIZED (${lockChats('b24_candidate_events WHERE candidate_id = $1')})
  INSERT INTO b24_inbox (chat_key, type, source, received_at, next_at, portal_json, body_kind, body, credentials, format)
  SELECT chat_key, type, source, received_at, ${NOW_MS}, portal_json, body_kind, body, credentials, format
  FROM b24_candidate_events, locked WHERE candidate_id = $1 ORDER BY id`
// A candidate taken out, its format told: one a newer version wrote is put back (the transaction rolled back).
const TAKE = 'DELETE FROM b24_candidates WHERE id = $1 RETURNING format'

const count = async (client: pg.PoolClient, text: string, values: unknown[]) => Number((await client.query<{ n: string }>(text, values)).rows[0]?.n)

/**
 * The PostgreSQL store's candidate installs (tables `b24_candidates`, `b24_candidate_events`),
 * every write one transaction. A candidate a newer version wrote is not listed, and asked for by
 * id (read, added to, confirmed, dropped) is a {@link NewerFormatError}, nothing changed; it still
 * counts towards the bounds.
 */
export class PostgresCandidates implements Candidates {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async get(id: number): Promise<CandidateRow | null> {
    const [row] = await this.#db.query<Formatted<CandidateColumns>>(`${SELECT} WHERE id = $1`, [id])
    if (row) refuseNewer(pendingInstall(id), row.format)
    return row ? toCandidateRow(row) : null
  }

  async of(memberId: string): Promise<CandidateRow[]> {
    return (await this.#db.query<CandidateColumns>(`${SELECT} WHERE member_id = $1 AND ${KNOWN} ORDER BY id`, [memberId])).map(toCandidateRow)
  }

  async list(): Promise<CandidateRow[]> {
    return (await this.#db.query<CandidateColumns>(`${SELECT} WHERE ${KNOWN} ORDER BY id`)).map(toCandidateRow)
  }

  async add(candidate: NewCandidate, first: NewRecord, bounds: CandidateBounds): Promise<CandidateAdded> {
    assertNewCandidate(candidate)
    return this.#db.transaction(async (client): Promise<CandidateAdded> => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [ADD_LOCK])
      if ((await count(client, 'SELECT count(*) AS n FROM b24_candidates WHERE member_id = $1', [candidate.memberId])) >= bounds.perPortal) return { refused: 'perPortal' }
      if ((await count(client, 'SELECT count(*) AS n FROM b24_candidates', [])) >= bounds.total) return { refused: 'total' }
      const { rows } = await client.query<{ id: number }>(
        INSERT,
        NEW_CANDIDATE_FIELDS.map((field) => candidate[field]),
      )
      const id = (rows[0] as { id: number }).id
      await client.query(EVENT, eventValues(id, first))
      return { id }
    })
  }

  // The candidate's row is locked first: appends to one candidate count one after the other, and
  // a confirmation or a drop under way is waited for (then it is gone).
  async append(id: number, record: NewRecord, maxEvents: number): Promise<CandidateAppend> {
    return this.#db.transaction(async (client): Promise<CandidateAppend> => {
      const [row] = (await client.query<{ format: number }>('SELECT format FROM b24_candidates WHERE id = $1 FOR UPDATE', [id])).rows
      if (!row) return 'gone'
      refuseNewer(pendingInstall(id), row.format)
      if ((await count(client, 'SELECT count(*) AS n FROM b24_candidate_events WHERE candidate_id = $1', [id])) >= maxEvents) return 'full'
      await client.query(EVENT, eventValues(id, record))
      return 'stored'
    })
  }

  async confirm(id: number, portal: PortalRow | null): Promise<boolean> {
    if (portal) assertPortalRow(portal)
    return this.#db.transaction(async (client) => {
      if (!(await take(client, id))) return false
      if (portal) changedUnlessNewer((await client.query<Guarded>(PUT_PORTAL, portalValues(portal))).rows, A_PORTAL)
      await client.query(RELEASE, [id])
      await client.query('DELETE FROM b24_candidate_events WHERE candidate_id = $1', [id])
      // Heard by every replica's worker once this commits.
      await client.query('NOTIFY b24_inbox')
      return true
    })
  }

  async drop(id: number): Promise<boolean> {
    return this.#db.transaction(async (client) => {
      const dropped = await take(client, id)
      await client.query('DELETE FROM b24_candidate_events WHERE candidate_id = $1', [id])
      return dropped
    })
  }

  async stats(): Promise<{ candidates: number; events: number }> {
    const [row] = (await this.#db.query<{ candidates: number; events: number }>(
      'SELECT (SELECT count(*) FROM b24_candidates)::int AS candidates, (SELECT count(*) FROM b24_candidate_events)::int AS events',
    )) as [{ candidates: number; events: number }]
    return row
  }
}

function eventValues(id: number, record: NewRecord): unknown[] {
  const row = recordColumns(record)
  return [id, row.chat_key, row.type, row.source, row.portal_json, row.body_kind, row.body, row.credentials, row.format]
}

/**
 * Deletes candidate `id` in the transaction of `client`; whether there was one.
 * @throws {NewerFormatError} when a newer version wrote it: the transaction rolls back, it stays.
 */
async function take(client: pg.PoolClient, id: number): Promise<boolean> {
  const [row] = (await client.query<{ format: number }>(TAKE, [id])).rows
  if (row) refuseNewer(pendingInstall(id), row.format)
  return row !== undefined
}
