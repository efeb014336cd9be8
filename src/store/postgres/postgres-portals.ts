import type { PortalRow } from '../../../schemas/portal.ts'
import { assertPortalPatch, assertPortalRow, PORTAL_COLUMNS, patchedFields, toPortalColumns, toPortalRow, type PortalColumns, type PortalPatch } from '../portal-rows.ts'
import type { Portals } from '../store.ts'
import type { PostgresDatabase } from './postgres-database.ts'

const COLUMNS = Object.values(PORTAL_COLUMNS)
const SELECT = `SELECT ${COLUMNS.join(', ')} FROM b24_portals`
/** Stores a portal whole (its columns' values in {@link PORTAL_COLUMNS} order): a reinstall leaves nothing of the row before. */
export const PUT_PORTAL = `INSERT INTO b24_portals (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})
  ON CONFLICT (member_id) DO UPDATE SET ${COLUMNS.filter((column) => column !== 'member_id')
    .map((column) => `${column} = excluded.${column}`)
    .join(', ')}`

/** A portal's values for {@link PUT_PORTAL}. */
export const portalValues = (row: PortalRow): unknown[] => {
  const columns = toPortalColumns(row)
  return COLUMNS.map((column) => columns[column])
}

/** The PostgreSQL store's portals (table `b24_portals`), every write committed durably. */
export class PostgresPortals implements Portals {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async get(memberId: string): Promise<PortalRow | null> {
    const [row] = await this.#db.query<PortalColumns>(`${SELECT} WHERE member_id = $1`, [memberId])
    return row ? toPortalRow(row) : null
  }

  // Byte order (as SQLite's), whatever the database's collation.
  async list(): Promise<PortalRow[]> {
    return (await this.#db.query<PortalColumns>(`${SELECT} ORDER BY member_id COLLATE "C"`)).map(toPortalRow)
  }

  async put(row: PortalRow): Promise<void> {
    assertPortalRow(row)
    await this.#db.query(PUT_PORTAL, portalValues(row))
  }

  async update(memberId: string, patch: PortalPatch): Promise<boolean> {
    assertPortalPatch(patch)
    const fields = patchedFields(patch)
    if (fields.length === 0) return (await this.get(memberId)) !== null
    const set = fields.map((field, i) => `${PORTAL_COLUMNS[field]} = $${i + 2}`).join(', ')
    const changed = await this.#db.query(`UPDATE b24_portals SET ${set} WHERE member_id = $1 RETURNING 1`, [memberId, ...fields.map((field) => patch[field])])
    return changed.length > 0
  }

  async delete(memberId: string): Promise<boolean> {
    return (await this.#db.query('DELETE FROM b24_portals WHERE member_id = $1 RETURNING 1', [memberId])).length > 0
  }
}
