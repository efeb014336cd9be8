import type { StoreStats } from '../../../schemas/health.ts'
import { STORED_FORMAT } from '../format.ts'
import { NOW_MS, type PostgresDatabase } from './postgres-database.ts'

const NEWER = `format > ${STORED_FORMAT}`

// One statement, one pass over the inbox; the other tables are small.
const STATS = `SELECT count(*) FILTER (WHERE status = 'pending') AS depth,
  ${NOW_MS} - min(received_at) FILTER (WHERE status = 'pending') AS oldest,
  count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS retrying,
  count(*) FILTER (WHERE status = 'dead') AS dead,
  count(*) FILTER (WHERE ${NEWER}) + (SELECT count(*) FROM b24_candidate_events WHERE ${NEWER}) AS records,
  (SELECT count(*) FROM b24_candidates WHERE ${NEWER}) AS candidates,
  (SELECT count(*) FROM b24_portals WHERE ${NEWER}) AS portals,
  (SELECT count(*) FROM b24_meta WHERE ${NEWER}) + (SELECT count(*) FROM b24_leases WHERE ${NEWER}) AS "values"
FROM b24_inbox`

interface Figures {
  depth: number
  oldest: number | null
  retrying: number
  dead: number
  records: number
  candidates: number
  portals: number
  values: number
}

/** The PostgreSQL store's figures for `/health` and `/metrics`: the shared inbox's, every replica's. */
export async function postgresStats(db: PostgresDatabase): Promise<StoreStats> {
  const [row] = (await db.query<Figures>(STATS)) as [Figures]
  const { records, candidates, portals, values } = row
  return { depth: row.depth, oldestPendingAgeMs: row.oldest, retrying: row.retrying, deadLetters: row.dead, newerFormat: { records, candidates, portals, values } }
}
