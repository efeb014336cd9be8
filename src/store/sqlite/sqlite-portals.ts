import type { Database, Statement } from 'better-sqlite3'
import type { PortalRow } from '../../../schemas/portal.ts'
import { STORED_FORMAT, type Formatted } from '../format.ts'
import { refuseNewer } from '../newer-format-error.ts'
import { A_PORTAL, assertPortalPatch, assertPortalRow, PORTAL_COLUMNS, patchedFields, toPortalColumns, toPortalRow, type PortalColumns, type PortalPatch } from '../portal-rows.ts'
import type { Portals } from '../store.ts'
import type { GroupCommit } from './group-commit.ts'
import { writeUnlessNewer } from './write-unless-newer.ts'

const COLUMNS = Object.values(PORTAL_COLUMNS)

/** Stores a portal whole (its columns as named parameters), in this version's format: a reinstall leaves nothing of the row before. */
export const PUT_PORTAL = `INSERT OR REPLACE INTO portals (${COLUMNS.join(', ')}, format) VALUES (${COLUMNS.map((column) => `@${column}`).join(', ')}, ${STORED_FORMAT})`

/**
 * The SQLite store's portals (table `portals`): written in the group commit, read directly. A row
 * a newer version wrote is not listed, and asked for by member id (read, put, updated, deleted)
 * is a {@link NewerFormatError}: never overwritten, never deleted.
 */
export class SqlitePortals implements Portals {
  readonly #db: Database
  readonly #writer: GroupCommit
  readonly #sql: Record<'get' | 'list' | 'put' | 'delete' | 'purge', Statement>
  /** An UPDATE for each set of columns a patch has changed, prepared once. */
  readonly #updates = new Map<string, Statement>()

  constructor(db: Database, writer: GroupCommit) {
    this.#db = db
    this.#writer = writer
    const select = `SELECT ${COLUMNS.join(', ')}, format FROM portals`
    this.#sql = {
      get: db.prepare(`${select} WHERE member_id = ?`),
      list: db.prepare(`${select} WHERE format <= ${STORED_FORMAT} ORDER BY member_id`),
      put: db.prepare(PUT_PORTAL),
      delete: db.prepare('DELETE FROM portals WHERE member_id = ?'),
      // The inbox is looked through only for the few portals uninstalled long ago (none, mostly).
      purge: db.prepare(
        `DELETE FROM portals WHERE status = 'uninstalled' AND updated_at < ? AND format <= ${STORED_FORMAT}
           AND NOT EXISTS (SELECT 1 FROM candidates WHERE candidates.member_id = portals.member_id)
           AND NOT EXISTS (SELECT 1 FROM inbox WHERE inbox.portal_json ->> '$.memberId' = portals.member_id)`,
      ),
    }
  }

  async get(memberId: string): Promise<PortalRow | null> {
    const row = this.#row(memberId)
    return row ? toPortalRow(row) : null
  }

  async list(): Promise<PortalRow[]> {
    return (this.#sql.list.all() as PortalColumns[]).map(toPortalRow)
  }

  async put(row: PortalRow): Promise<void> {
    assertPortalRow(row)
    const columns = toPortalColumns(row)
    await this.#guarded(row.memberId, () => this.#sql.put.run(columns))
  }

  // In the group commit even when it changes nothing: it sees what was written before it.
  async update(memberId: string, patch: PortalPatch): Promise<boolean> {
    assertPortalPatch(patch)
    const fields = patchedFields(patch)
    if (fields.length === 0) return this.#guarded(memberId, () => this.#sql.get.get(memberId) !== undefined)
    const values = Object.fromEntries(fields.map((field) => [PORTAL_COLUMNS[field], patch[field]]))
    const statement = this.#update(fields.map((field) => PORTAL_COLUMNS[field]))
    return this.#guarded(memberId, () => statement.run({ ...values, member_id: memberId }).changes > 0)
  }

  async delete(memberId: string): Promise<boolean> {
    return this.#guarded(memberId, () => this.#sql.delete.run(memberId).changes > 0)
  }

  async purge(before: number): Promise<number> {
    return this.#writer.write(() => this.#sql.purge.run(before).changes)
  }

  /** @throws {NewerFormatError} when a newer version wrote it. */
  #row(memberId: string): PortalColumns | undefined {
    const row = this.#sql.get.get(memberId) as Formatted<PortalColumns> | undefined
    if (row) refuseNewer(A_PORTAL, row.format)
    return row
  }

  /** Runs `write` in the group commit unless a newer version wrote the row (looked at in the same commit: nothing comes in between). */
  #guarded<T>(memberId: string, write: () => T): Promise<T> {
    return writeUnlessNewer(this.#writer, () => {
      this.#row(memberId)
      return write()
    })
  }

  #update(columns: string[]): Statement {
    const key = columns.join(',')
    let statement = this.#updates.get(key)
    if (!statement) {
      statement = this.#db.prepare(`UPDATE portals SET ${columns.map((column) => `${column} = @${column}`).join(', ')} WHERE member_id = @member_id`)
      this.#updates.set(key, statement)
    }
    return statement
  }
}
