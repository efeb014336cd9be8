import type { Database, Statement } from 'better-sqlite3'
import type { PortalRow } from '../../../schemas/portal.ts'
import { assertPortalPatch, assertPortalRow, PORTAL_COLUMNS, patchedFields, toPortalColumns, toPortalRow, type PortalColumns, type PortalPatch } from '../portal-rows.ts'
import type { Portals } from '../store.ts'
import type { GroupCommit } from './group-commit.ts'

const COLUMNS = Object.values(PORTAL_COLUMNS)

/** The SQLite store's portals (table `portals`): written in the group commit, read directly. */
export class SqlitePortals implements Portals {
  readonly #db: Database
  readonly #writer: GroupCommit
  readonly #sql: Record<'get' | 'list' | 'put' | 'delete', Statement>
  /** An UPDATE for each set of columns a patch has changed, prepared once. */
  readonly #updates = new Map<string, Statement>()

  constructor(db: Database, writer: GroupCommit) {
    this.#db = db
    this.#writer = writer
    const select = `SELECT ${COLUMNS.join(', ')} FROM portals`
    this.#sql = {
      get: db.prepare(`${select} WHERE member_id = ?`),
      list: db.prepare(`${select} ORDER BY member_id`),
      put: db.prepare(`INSERT OR REPLACE INTO portals (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((column) => `@${column}`).join(', ')})`),
      delete: db.prepare('DELETE FROM portals WHERE member_id = ?'),
    }
  }

  async get(memberId: string): Promise<PortalRow | null> {
    const row = this.#sql.get.get(memberId) as PortalColumns | undefined
    return row ? toPortalRow(row) : null
  }

  async list(): Promise<PortalRow[]> {
    return (this.#sql.list.all() as PortalColumns[]).map(toPortalRow)
  }

  async put(row: PortalRow): Promise<void> {
    assertPortalRow(row)
    const columns = toPortalColumns(row)
    await this.#writer.write(() => this.#sql.put.run(columns))
  }

  // In the group commit even when it changes nothing: it sees what was written before it.
  async update(memberId: string, patch: PortalPatch): Promise<boolean> {
    assertPortalPatch(patch)
    const fields = patchedFields(patch)
    if (fields.length === 0) return this.#writer.write(() => this.#sql.get.get(memberId) !== undefined)
    const values = Object.fromEntries(fields.map((field) => [PORTAL_COLUMNS[field], patch[field]]))
    const statement = this.#update(fields.map((field) => PORTAL_COLUMNS[field]))
    return this.#writer.write(() => statement.run({ ...values, member_id: memberId }).changes > 0)
  }

  async delete(memberId: string): Promise<boolean> {
    return this.#writer.write(() => this.#sql.delete.run(memberId).changes > 0)
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
