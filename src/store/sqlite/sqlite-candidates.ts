import type { Database, Statement } from 'better-sqlite3'
import type { CandidateRow, NewCandidate, PortalRow } from '../../../schemas/portal.ts'
import { assertNewCandidate, CANDIDATE_COLUMNS, NEW_CANDIDATE_FIELDS, pendingInstall, toCandidateRow, type CandidateColumns } from '../candidate-rows.ts'
import { STORED_FORMAT, type Formatted } from '../format.ts'
import { refuseNewer } from '../newer-format-error.ts'
import { A_PORTAL, assertPortalRow, toPortalColumns } from '../portal-rows.ts'
import { recordColumns } from '../rows.ts'
import type { CandidateAdded, CandidateAppend, CandidateBounds, Candidates, NewRecord } from '../store.ts'
import type { GroupCommit } from './group-commit.ts'
import type { LineRef } from './sqlite-queue.ts'
import { PUT_PORTAL } from './sqlite-portals.ts'
import { writeUnlessNewer } from './write-unless-newer.ts'

const SELECT = `SELECT ${Object.values(CANDIDATE_COLUMNS).join(', ')}, format FROM candidates`
const NEW_COLUMNS = NEW_CANDIDATE_FIELDS.map((field) => CANDIDATE_COLUMNS[field])
const EVENT_COLUMNS = 'chat_key, type, source, portal_json, body_kind, body, credentials, format'

type Statements = Record<'get' | 'of' | 'list' | 'count' | 'countOf' | 'insert' | 'events' | 'event' | 'exists' | 'portalFormat' | 'release' | 'dropEvents' | 'drop' | 'putPortal' | 'stats', Statement>

/**
 * The SQLite store's candidate installs (tables `candidates` and `candidate_events`), written in
 * the group commit: a bound is checked in the same write that would pass it, so two doors at once
 * cannot both slip under it. A confirmed candidate's events are put in line in the inbox, each in
 * its format. A candidate a newer version wrote is not listed, and asked for by id (read, added
 * to, confirmed, dropped) is a {@link NewerFormatError}; it still counts towards the bounds.
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
      of: db.prepare(`${SELECT} WHERE member_id = ? AND format <= ${STORED_FORMAT} ORDER BY id`),
      list: db.prepare(`${SELECT} WHERE format <= ${STORED_FORMAT} ORDER BY id`),
      count: db.prepare('SELECT count(*) FROM candidates').pluck(),
      countOf: db.prepare('SELECT count(*) FROM candidates WHERE member_id = ?').pluck(),
      insert: db.prepare(`INSERT INTO candidates (${NEW_COLUMNS.join(', ')}, format) VALUES (${NEW_COLUMNS.map((column) => `@${column}`).join(', ')}, ${STORED_FORMAT})`),
      events: db.prepare('SELECT count(*) FROM candidate_events WHERE candidate_id = ?').pluck(),
      event: db.prepare(`INSERT INTO candidate_events (candidate_id, received_at, ${EVENT_COLUMNS}) VALUES (@candidate_id, @now, @chat_key, @type, @source, @portal_json, @body_kind, @body, @credentials, @format)`),
      exists: db.prepare('SELECT format FROM candidates WHERE id = ?').pluck(),
      portalFormat: db.prepare('SELECT format FROM portals WHERE member_id = ?').pluck(),
      // Into the inbox in the order they came, due now, their arrival times kept.
      release: db.prepare(
        `INSERT INTO inbox (status, chat_key, type, source, received_at, next_at, portal_json, body_kind, body, credentials, format)
         SELECT 'pending', chat_key, type, source, received_at, @now, portal_json, body_kind, body, credentials, format
         FROM candidate_events WHERE candidate_id = @id ORDER BY id
         RETURNING id, chat_key AS chatKey, received_at AS receivedAt, format`,
      ),
      dropEvents: db.prepare('DELETE FROM candidate_events WHERE candidate_id = ?'),
      drop: db.prepare('DELETE FROM candidates WHERE id = ?'),
      putPortal: db.prepare(PUT_PORTAL),
      stats: db.prepare('SELECT (SELECT count(*) FROM candidates) AS candidates, (SELECT count(*) FROM candidate_events) AS events'),
    }
  }

  async get(id: number): Promise<CandidateRow | null> {
    const row = this.#sql.get.get(id) as Formatted<CandidateColumns> | undefined
    if (row) refuseNewer(pendingInstall(id), row.format)
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
    return writeUnlessNewer(this.#writer, (): CandidateAppend => {
      if (!this.#exists(id)) return 'gone'
      if ((this.#sql.events.get(id) as number) >= maxEvents) return 'full'
      this.#sql.event.run({ ...event, candidate_id: id, now: Date.now() })
      return 'stored'
    })
  }

  async confirm(id: number, portal: PortalRow | null): Promise<boolean> {
    if (portal) assertPortalRow(portal)
    const now = Date.now()
    const released = await writeUnlessNewer(this.#writer, () => {
      if (!this.#exists(id)) return null
      if (portal) {
        const format = this.#sql.portalFormat.get(portal.memberId) as number | undefined
        if (format !== undefined) refuseNewer(A_PORTAL, format)
        this.#sql.putPortal.run(toPortalColumns(portal))
      }
      const refs = this.#sql.release.all({ id, now }) as Array<Pick<LineRef, 'id' | 'chatKey' | 'receivedAt' | 'format'>>
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
    return writeUnlessNewer(this.#writer, () => {
      this.#exists(id)
      this.#sql.dropEvents.run(id)
      return this.#sql.drop.run(id).changes > 0
    })
  }

  async stats(): Promise<{ candidates: number; events: number }> {
    return this.#sql.stats.get() as { candidates: number; events: number }
  }

  /**
   * Whether candidate `id` is stored, in a format this version reads.
   * @throws {NewerFormatError} when a newer version wrote it.
   */
  #exists(id: number): boolean {
    const format = this.#sql.exists.get(id) as number | undefined
    if (format !== undefined) refuseNewer(pendingInstall(id), format)
    return format !== undefined
  }
}
