import type pg from 'pg'
import type { PostgresDatabase } from './postgres-database.ts'

/** The tables every event turns over: its row (inserted, claimed, deleted), its dedup key (kept, then deleted), its portal's bucket (updated by each call). */
export const BUSY_TABLES = ['b24_inbox', 'b24_seen', 'b24_rest_buckets'] as const

/**
 * Vacuums the tables every event turns over, so that the space of their dead rows is used again
 * (an event leaves two or three behind). PostgreSQL's autovacuum would, when it is on and comes
 * round (a minute apart by default); a server with it off would let them grow without end (the
 * soak measured 20 MB a minute at 200 events a second), and vacuumed once a minute they swell
 * between two vacuums. On a connection of its own, unbounded by the store's statement timeout (a
 * day of dedup keys may take a while), skipping a table another replica is vacuuming right then.
 */
export async function vacuumBusyTables(db: PostgresDatabase): Promise<void> {
  await db.ready()
  const client = db.client()
  await client.connect()
  try {
    await client.query('SET statement_timeout = 0')
    await client.query({ text: `VACUUM (SKIP_LOCKED) ${BUSY_TABLES.join(', ')}`, query_timeout: 2 ** 31 - 1 } as pg.QueryConfig)
  } finally {
    await client.end()
  }
}
