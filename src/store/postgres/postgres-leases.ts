import { STORED_FORMAT } from '../format.ts'
import type { Leases } from '../store.ts'
import { NOW_MS, type PostgresDatabase } from './postgres-database.ts'
import { changedUnlessNewer, unlessNewer, type Guarded } from './unless-newer.ts'

const KNOWN = `format <= ${STORED_FORMAT}`
const LEASE = unlessNewer(
  'b24_leases',
  'name = $1',
  `INSERT INTO b24_leases (name, owner, expires_at, format) VALUES ($1, $2, ${NOW_MS} + $3, ${STORED_FORMAT})
   ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at, format = excluded.format
   WHERE (b24_leases.owner = excluded.owner OR b24_leases.expires_at <= ${NOW_MS}) AND b24_leases.${KNOWN}`,
)

/**
 * The PostgreSQL store's leases. Replicas on other hosts cannot be asked whether they live: a
 * lease is theirs until it expires unrenewed, by the database's clock. A lease a newer version
 * wrote is not taken or renewed (a {@link NewerFormatError}); nobody is named as its holder; it is
 * not given up.
 */
export class PostgresLeases implements Leases {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return changedUnlessNewer(await this.#db.query<Guarded>(LEASE, [name, owner, ttlMs]), `the lease ${name}`) > 0
  }

  async unlease(name: string, owner: string): Promise<void> {
    await this.#db.query(`DELETE FROM b24_leases WHERE name = $1 AND owner = $2 AND ${KNOWN}`, [name, owner])
  }

  async holder(name: string): Promise<string | null> {
    return (await this.#db.query<{ owner: string }>(`SELECT owner FROM b24_leases WHERE name = $1 AND expires_at > ${NOW_MS} AND ${KNOWN}`, [name]))[0]?.owner ?? null
  }
}
