import type pg from 'pg'
import type { CandidateRow, NewCandidate, PortalRow } from '../../../schemas/portal.ts'
import { assertNewCandidate, CANDIDATE_COLUMNS, NEW_CANDIDATE_FIELDS, toCandidateRow, type CandidateColumns } from '../candidate-rows.ts'
import { assertPortalRow } from '../portal-rows.ts'
import { recordColumns } from '../rows.ts'
import type { CandidateAdded, CandidateAppend, CandidateBounds, Candidates, NewRecord } from '../store.ts'
import { NOW_MS, type PostgresDatabase } from './postgres-database.ts'
import { portalValues, PUT_PORTAL } from './postgres-portals.ts'

/** Taken by every add, across replicas: the bounds are counted and kept by one add at a time (adds are few). */
const ADD_LOCK = 0x62323463 // "b24c"

const SELECT = `SELECT ${Object.values(CANDIDATE_COLUMNS).join(', ')} FROM b24_candidates`
const NEW_COLUMNS = NEW_CANDIDATE_FIELDS.map((field) => CANDIDATE_COLUMNS[field])
const INSERT = `INSERT INTO b24_candidates (${NEW_COLUMNS.join(', ')}) VALUES (${NEW_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`
const EVENT = `INSERT INTO b24_candidate_events (candidate_id, chat_key, type, source, portal_json, body_kind, body, credentials, received_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ${NOW_MS})`
// Into the inbox in the order they came, due now, their arrival times kept. A chat's events held
// here are its only ones in the usual case (a portal with no confirmed install yet).
const RELEASE = `INSERT INTO b24_inbox (chat_key, type, source, received_at, next_at, portal_json, body_kind, body, credentials)
  SELECT chat_key, type, source, received_at, ${NOW_MS}, portal_json, body_kind, body, credentials
  FROM b24_candidate_events WHERE candidate_id = $1 ORDER BY id`

const count = async (client: pg.PoolClient, text: string, values: unknown[]) => Number((await client.query<{ n: string }>(text, values)).rows[0]?.n)

/** The PostgreSQL store's candidate installs (tables `b24_candidates`, `b24_candidate_events`), every write one transaction. */
export class PostgresCandidates implements Candidates {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async get(id: number): Promise<CandidateRow | null> {
    const [row] = await this.#db.query<CandidateColumns>(`${SELECT} WHERE id = $1`, [id])
    return row ? toCandidateRow(row) : null
  }

  async of(memberId: string): Promise<CandidateRow[]> {
    return (await this.#db.query<CandidateColumns>(`${SELECT} WHERE member_id = $1 ORDER BY id`, [memberId])).map(toCandidateRow)
  }

  async list(): Promise<CandidateRow[]> {
    return (await this.#db.query<CandidateColumns>(`${SELECT} ORDER BY id`)).map(toCandidateRow)
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
      if ((await client.query('SELECT 1 FROM b24_candidates WHERE id = $1 FOR UPDATE', [id])).rowCount === 0) return 'gone'
      if ((await count(client, 'SELECT count(*) AS n FROM b24_candidate_events WHERE candidate_id = $1', [id])) >= maxEvents) return 'full'
      await client.query(EVENT, eventValues(id, record))
      return 'stored'
    })
  }

  async confirm(id: number, portal: PortalRow | null): Promise<boolean> {
    if (portal) assertPortalRow(portal)
    return this.#db.transaction(async (client) => {
      if ((await client.query('DELETE FROM b24_candidates WHERE id = $1', [id])).rowCount === 0) return false
      if (portal) await client.query(PUT_PORTAL, portalValues(portal))
      await client.query(RELEASE, [id])
      await client.query('DELETE FROM b24_candidate_events WHERE candidate_id = $1', [id])
      // Heard by every replica's worker once this commits.
      await client.query('NOTIFY b24_inbox')
      return true
    })
  }

  async drop(id: number): Promise<boolean> {
    return this.#db.transaction(async (client) => {
      const dropped = (await client.query('DELETE FROM b24_candidates WHERE id = $1', [id])).rowCount !== 0
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
  return [id, row.chat_key, row.type, row.source, row.portal_json, row.body_kind, row.body, row.credentials]
}
