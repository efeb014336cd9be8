import { STORED_FORMAT } from '../format.ts'
import { refuseNewer } from '../newer-format-error.ts'
import type { Meta } from '../store.ts'
import type { PostgresDatabase } from './postgres-database.ts'
import { changedUnlessNewer, unlessNewer, type Guarded } from './unless-newer.ts'

const SET = unlessNewer(
  'b24_meta',
  'key = $1',
  `INSERT INTO b24_meta (key, value, format) VALUES ($1, $2, ${STORED_FORMAT})
   ON CONFLICT (key) DO UPDATE SET value = excluded.value, format = excluded.format WHERE b24_meta.format <= ${STORED_FORMAT}`,
)

/**
 * The PostgreSQL store's named values, shared by every replica. A value a newer version wrote is
 * neither read nor overwritten: asking for it (reading, setting) is a {@link NewerFormatError}.
 */
export class PostgresMeta implements Meta {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async get(key: string): Promise<string | null> {
    const [row] = await this.#db.query<{ value: string; format: number }>('SELECT value, format FROM b24_meta WHERE key = $1', [key])
    if (row) refuseNewer(`the value ${key}`, row.format)
    return row?.value ?? null
  }

  async set(key: string, value: string): Promise<void> {
    changedUnlessNewer(await this.#db.query<Guarded>(SET, [key, value]), `the value ${key}`)
  }
}
