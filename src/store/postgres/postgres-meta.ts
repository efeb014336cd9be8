import type { Meta } from '../store.ts'
import { NOW_MS, type PostgresDatabase } from './postgres-database.ts'

/**
 * The PostgreSQL store's named values and leases. Replicas on other hosts cannot be asked whether
 * they live: a lease is theirs until it expires unrenewed, by the database's clock.
 */
export class PostgresMeta implements Meta {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async get(key: string): Promise<string | null> {
    return (await this.#db.query<{ value: string }>('SELECT value FROM b24_meta WHERE key = $1', [key]))[0]?.value ?? null
  }

  async set(key: string, value: string): Promise<void> {
    await this.#db.query('INSERT INTO b24_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value])
  }

  async lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const taken = await this.#db.query(
      `INSERT INTO b24_leases (name, owner, expires_at) VALUES ($1, $2, ${NOW_MS} + $3)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE b24_leases.owner = excluded.owner OR b24_leases.expires_at <= ${NOW_MS}
       RETURNING 1`,
      [name, owner, ttlMs],
    )
    return taken.length > 0
  }

  async unlease(name: string, owner: string): Promise<void> {
    await this.#db.query('DELETE FROM b24_leases WHERE name = $1 AND owner = $2', [name, owner])
  }

  async holder(name: string): Promise<string | null> {
    return (await this.#db.query<{ owner: string }>(`SELECT owner FROM b24_leases WHERE name = $1 AND expires_at > ${NOW_MS}`, [name]))[0]?.owner ?? null
  }
}
