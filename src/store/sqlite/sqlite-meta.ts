import type { Database, Statement } from 'better-sqlite3'
import { STORED_FORMAT } from '../format.ts'
import { refuseNewer } from '../newer-format-error.ts'
import type { Meta } from '../store.ts'
import type { GroupCommit } from './group-commit.ts'
import { writeUnlessNewer } from './write-unless-newer.ts'

/**
 * The SQLite store's named values (table `meta`). A value a newer version wrote is neither read
 * nor overwritten: asking for it (reading, setting) is a {@link NewerFormatError}.
 */
export class SqliteMeta implements Meta {
  readonly #writer: GroupCommit
  readonly #sql: Record<'get' | 'set', Statement>

  constructor(db: Database, writer: GroupCommit) {
    this.#writer = writer
    this.#sql = {
      get: db.prepare('SELECT value, format FROM meta WHERE key = ?'),
      set: db.prepare(`INSERT INTO meta (key, value, format) VALUES (?, ?, ${STORED_FORMAT}) ON CONFLICT (key) DO UPDATE SET value = excluded.value, format = excluded.format`),
    }
  }

  async get(key: string): Promise<string | null> {
    return this.#value(key)
  }

  async set(key: string, value: string): Promise<void> {
    await writeUnlessNewer(this.#writer, () => {
      this.#value(key)
      this.#sql.set.run(key, value)
    })
  }

  /** @throws {NewerFormatError} when a newer version wrote it. */
  #value(key: string): string | null {
    const row = this.#sql.get.get(key) as { value: string; format: number } | undefined
    if (row) refuseNewer(`the value ${key}`, row.format)
    return row?.value ?? null
  }
}
