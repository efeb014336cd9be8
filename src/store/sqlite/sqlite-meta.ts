import type { Database, Statement } from 'better-sqlite3'
import type { Meta } from '../store.ts'
import type { GroupCommit } from './group-commit.ts'

/** The SQLite store's named values (table `meta`) and leases (table `leases`). */
export class SqliteMeta implements Meta {
  readonly #writer: GroupCommit
  readonly #sql: Record<'get' | 'set' | 'lease' | 'unlease', Statement>

  constructor(db: Database, writer: GroupCommit) {
    this.#writer = writer
    this.#sql = {
      get: db.prepare('SELECT value FROM meta WHERE key = ?'),
      set: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      lease: db.prepare(
        `INSERT INTO leases (name, owner, expires_at) VALUES (@name, @owner, @expires)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE leases.owner = excluded.owner OR leases.expires_at <= @now`,
      ),
      unlease: db.prepare('DELETE FROM leases WHERE name = ? AND owner = ?'),
    }
  }

  async get(key: string): Promise<string | null> {
    const row = this.#sql.get.get(key) as { value: string } | undefined
    return row?.value ?? null
  }

  async set(key: string, value: string): Promise<void> {
    await this.#writer.write(() => this.#sql.set.run(key, value))
  }

  async lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.#writer.write(() => {
      const now = Date.now()
      return this.#sql.lease.run({ name, owner, now, expires: now + ttlMs }).changes > 0
    })
  }

  async unlease(name: string, owner: string): Promise<void> {
    await this.#writer.write(() => this.#sql.unlease.run(name, owner))
  }
}
