import type { Database, Statement } from 'better-sqlite3'
import type { CandidateRow, NewCandidate, PortalRow } from '../../../schemas/portal.ts'
import { assertNewCandidate, CANDIDATE_COLUMNS, NEW_CANDIDATE_FIELDS, toCandidateRow, type CandidateColumns } from '../candidate-rows.ts'
import { assertPortalRow, PORTAL_COLUMNS, toPortalColumns } from '../portal-rows.ts'
import { recordColumns } from '../rows.ts'
import type { CandidateAdded, CandidateAppend, CandidateBounds, Candidates, NewRecord } from '../store.ts'
import type { GroupCommit } from './group-commit.ts'
import type { LineRef } from './sqlite-queue.ts'

const SELECT = `SELECT ${Object.values(CANDIDATE_COLUMNS).join(', ')} FROM candidates`
const NEW_COLUMNS = NEW_CANDIDATE_FIELDS.map((field) => CANDIDATE_COLUMNS[field])
const EVENT_COLUMNS = 'chat_key, type, source, portal_json, body_kind, body, credentials'
const PORTAL_COLUMN_NAMES = Object.values(PORTAL_COLUMNS)

type Statements = Record<'get' | 'of' | 'list' | 'count' | 'countOf' | 'insert' | 'events' | 'event' | 'exists' | 'release' | 'dropEvents' | 'drop' | 'putPortal' | 'stats', Statement>

/**
 * The SQLite store's candidate installs (tables `candidates` and `candidate_events`), written in
 * the group commit: a bound is checked in the same write that would pass it, so two doors at once
 * cannot both slip under it. A confirmed candidate's events are put in line in the inbox.
 */
export class SqliteCandidates implements Candidates {
  readonly #writer: GroupCommit
  readonly #enqueue: (refs: LineRef[]) => void
  readonly #sql: Statements

  /** @param enqueue told of the records a confirmation put in the inbox, once committed */
  constructor(db: Database, writer: GroupCommit, enqueue: (refs: LineRef[]) => void) {
    this.#writer = writer
    this.#enqueue = enqueue
    this.#sql = {
      get: db.prepare(`${SELECT} WHERE id = ?`),
      of: db.prepare(`${SELECT} WHERE member_id = ? ORDER BY id`),
      list: db.prepare(`${SELECT} ORDER BY id`),
      count: db.prepare('SELECT count(*) FROM candidates').pluck(),
      countOf: db.prepare('SELECT count(*) FROM candidates WHERE member_id = ?').pluck(),
      insert: db.prepare(`INSERT INTO candidates (${NEW_COLUMNS.join(', ')}) VALUES (${NEW_COLUMNS.map((column) => `@${column}`).join(', ')})`),
      events: db.prepare('SELECT count(*) FROM candidate_events WHERE candidate_id = ?').pluck(),
      event: db.prepare(`INSERT INTO candidate_events (candidate_id, received_at, ${EVENT_COLUMNS}) VALUES (@candidate_id, @now, @chat_key, @type, @source, @portal_json, @body_kind, @body, @credentials)`),
      exists: db.prepare('SELECT 1 FROM candidates WHERE id = ?').pluck(),
      // Into the inbox in the order they came, due now, their arrival times kept.
      release: db.prepare(
        `INSERT INTO inbox (status, chat_key, type, source, received_at, next_at, portal_json, body_kind, body, credentials)
         SELECT 'pending', chat_key, type, source, received_at, @now, portal_json, body_kind, body, credentials
         FROM candidate_events WHERE candidate_id = @id ORDER BY id
         RETURNING id, chat_key AS chatKey, received_at AS receivedAt`,
      ),
      dropEvents: db.prepare('DELETE FROM candidate_events WHERE candidate_id = ?'),
      drop: db.prepare('DELETE FROM candidates WHERE id = ?'),
      putPortal: db.prepare(`INSERT OR REPLACE INTO portals (${PORTAL_COLUMN_NAMES.join(', ')}) VALUES (${PORTAL_COLUMN_NAMES.map((column) => `@${column}`).join(', ')})`),
      stats: db.prepare('SELECT (SELECT count(*) FROM candidates) AS candidates, (SELECT count(*) FROM candidate_events) AS events'),
    }
  }

  async get(id: number): Promise<CandidateRow | null> {
    const row = this.#sql.get.get(id) as CandidateColumns | undefined
    return row ? toCandidateRow(row) : null
  }

  async of(memberId: string): Promise<CandidateRow[]> {
    return (this.#sql.of.all(memberId) as CandidateColumns[]).map(toCandidateRow)
  }

  async list(): Promise<CandidateRow[]> {
    return (this.#sql.list.all() as CandidateColumns[]).map(toCandidateRow)
  }

  async add(candidate: NewCandidate, first: NewRecord, bounds: CandidateBounds): Promise<CandidateAdded> {
    assertNewCandidate(candidate)
    const columns = Object.fromEntries(NEW_CANDIDATE_FIELDS.map((field) => [CANDIDATE_COLUMNS[field], candidate[field]]))
    const event = recordColumns(first)
    return this.#writer.write((): CandidateAdded => {
      if ((this.#sql.countOf.get(candidate.memberId) as number) >= bounds.perPortal) return { refused: 'perPortal' }
      if ((this.#sql.count.get() as number) >= bounds.total) return { refused: 'total' }
      const id = Number(this.#sql.insert.run(columns).lastInsertRowid)
      this.#sql.event.run({ ...event, candidate_id: id, now: Date.now() })
      return { id }
    })
  }

  async append(id: number, record: NewRecord, maxEvents: number): Promise<CandidateAppend> {
    const event = recordColumns(record)
    return this.#writer.write((): CandidateAppend => {
      if (this.#sql.exists.get(id) === undefined) return 'gone'
      if ((this.#sql.events.get(id) as number) >= maxEvents) return 'full'
      this.#sql.event.run({ ...event, candidate_id: id, now: Date.now() })
      return 'stored'
    })
  }

  async confirm(id: number, portal: PortalRow | null): Promise<boolean> {
    if (portal) assertPortalRow(portal)
    const now = Date.now()
    const released = await this.#writer.write(() => {
      if (this.#sql.exists.get(id) === undefined) return null
      if (portal) this.#sql.putPortal.run(toPortalColumns(portal))
      const refs = this.#sql.release.all({ id, now }) as Array<Pick<LineRef, 'id' | 'chatKey' | 'receivedAt'>>
      this.#sql.dropEvents.run(id)
      this.#sql.drop.run(id)
      return refs
    })
    if (released === null) return false
    // RETURNING does not promise an order: the lines want ids in order.
    this.#enqueue(released.sort((a, b) => a.id - b.id).map((ref) => ({ ...ref, nextAt: now, attempts: 0 })))
    return true
  }

  async drop(id: number): Promise<boolean> {
    return this.#writer.write(() => {
      this.#sql.dropEvents.run(id)
      return this.#sql.drop.run(id).changes > 0
    })
  }

  async stats(): Promise<{ candidates: number; events: number }> {
    return this.#sql.stats.get() as { candidates: number; events: number }
  }
}
