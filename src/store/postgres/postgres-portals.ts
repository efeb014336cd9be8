import type { PortalRow } from '../../../schemas/portal.ts'
import { STORED_FORMAT, type Formatted } from '../format.ts'
import { refuseNewer } from '../newer-format-error.ts'
import { A_PORTAL, assertPortalPatch, assertPortalRow, PORTAL_COLUMNS, patchedFields, toPortalColumns, toPortalRow, type PortalColumns, type PortalPatch } from '../portal-rows.ts'
import type { Portals } from '../store.ts'
import type { PostgresDatabase } from './postgres-database.ts'
import { changedUnlessNewer, unlessNewer, type Guarded } from './unless-newer.ts'

const COLUMNS = Object.values(PORTAL_COLUMNS)
const KNOWN = `format <= ${STORED_FORMAT}`
const SELECT = `SELECT ${COLUMNS.join(', ')}, format FROM b24_portals`
const ONE = 'member_id = $1'

/**
 * Stores a portal whole (its columns' values in {@link PORTAL_COLUMNS} order, `member_id` first)
 * in this version's format: a reinstall leaves nothing of the row before. A row a newer version
 * wrote is left as it is (see {@link changedUnlessNewer}).
 */
export const PUT_PORTAL = unlessNewer(
  'b24_portals',
  ONE,
  `INSERT INTO b24_portals (${COLUMNS.join(', ')}, format) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}, ${STORED_FORMAT})
   ON CONFLICT (member_id) DO UPDATE SET ${COLUMNS.filter((column) => column !== 'member_id')
     .map((column) => `${column} = excluded.${column}`)
     .join(', ')}, format = excluded.format WHERE b24_portals.${KNOWN}`,
)
const DELETE = unlessNewer('b24_portals', ONE, `DELETE FROM b24_portals WHERE ${ONE} AND ${KNOWN}`)
// Rows locked as they are picked, skipping those another replica's purge (or a reinstall) holds:
// purges at once never wait on or deadlock with each other. A row a reinstall made active
// meanwhile is looked at again as it is now (FOR UPDATE), and kept. The inbox is looked through
// only for the few portals uninstalled long ago (none, mostly).
const PURGE = `WITH doomed AS (
    SELECT member_id FROM b24_portals p WHERE status = 'uninstalled' AND updated_at < $1 AND ${KNOWN}
      AND NOT EXISTS (SELECT 1 FROM b24_candidates c WHERE c.member_id = p.member_id)
      AND NOT EXISTS (SELECT 1 FROM b24_inbox i WHERE i.portal_json::jsonb ->> 'memberId' = p.member_id)
    FOR UPDATE SKIP LOCKED),
  gone AS (DELETE FROM b24_portals USING doomed WHERE b24_portals.member_id = doomed.member_id RETURNING 1)
  SELECT count(*)::int AS dropped FROM gone`

/** A portal's values for {@link PUT_PORTAL}. */
export const portalValues = (row: PortalRow): unknown[] => {
  const columns = toPortalColumns(row)
  return COLUMNS.map((column) => columns[column])
}

/**
 * The PostgreSQL store's portals (table `b24_portals`), every write committed durably. A row a
 * newer version wrote is not listed, and asked for by member id (read, put, updated, deleted) is a
 * {@link NewerFormatError}: never overwritten, never deleted.
 */
export class PostgresPortals implements Portals {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async get(memberId: string): Promise<PortalRow | null> {
    const [row] = await this.#db.query<Formatted<PortalColumns>>(`${SELECT} WHERE ${ONE}`, [memberId])
    if (row) refuseNewer(A_PORTAL, row.format)
    return row ? toPortalRow(row) : null
  }

  // Byte order (as SQLite's), whatever the database's collation.
  async list(): Promise<PortalRow[]> {
    return (await this.#db.query<PortalColumns>(`${SELECT} WHERE ${KNOWN} ORDER BY member_id COLLATE "C"`)).map(toPortalRow)
  }

  async put(row: PortalRow): Promise<void> {
    assertPortalRow(row)
    changedUnlessNewer(await this.#db.query<Guarded>(PUT_PORTAL, portalValues(row)), A_PORTAL)
  }

  async update(memberId: string, patch: PortalPatch): Promise<boolean> {
    assertPortalPatch(patch)
    const fields = patchedFields(patch)
    if (fields.length === 0) return (await this.get(memberId)) !== null
    const set = fields.map((field, i) => `${PORTAL_COLUMNS[field]} = $${i + 2}`).join(', ')
    const update = unlessNewer('b24_portals', ONE, `UPDATE b24_portals SET ${set} WHERE ${ONE} AND ${KNOWN}`)
    return changedUnlessNewer(await this.#db.query<Guarded>(update, [memberId, ...fields.map((field) => patch[field])]), A_PORTAL) > 0
  }

  async delete(memberId: string): Promise<boolean> {
    return changedUnlessNewer(await this.#db.query<Guarded>(DELETE, [memberId]), A_PORTAL) > 0
  }

  async purge(before: number): Promise<number> {
    const [{ dropped }] = (await this.#db.query<{ dropped: number }>(PURGE, [before])) as [{ dropped: number }]
    return dropped
  }
}
