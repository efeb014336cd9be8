import type { SealedColumn } from './sealed-values.ts'

/** Where each sealed column lives, as both stores lay the tables out (PostgreSQL's names prefixed `b24_`): its table, the table's key, and whether the key is an id. */
export const SEALED_TABLES: Record<SealedColumn, { table: string; key: string; column: string; id: boolean }> = {
  inbox: { table: 'inbox', key: 'id', column: 'credentials', id: true },
  pendingEvents: { table: 'candidate_events', key: 'id', column: 'credentials', id: true },
  pendingInstalls: { table: 'candidates', key: 'id', column: 'tokens', id: true },
  portals: { table: 'portals', key: 'member_id', column: 'tokens', id: false },
}
