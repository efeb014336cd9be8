import type { Replacement, SealedColumn, SealedValue, SealedValues } from '../sealed-values.ts'
import { STORED_FORMAT } from '../format.ts'
import { SEALED_TABLES } from '../sealed-tables.ts'
import type { PostgresDatabase } from './postgres-database.ts'

/**
 * The shared store's sealed values, for `keys rotate` beside running replicas: a batch is written
 * by one statement (whole or not at all), each value only where its row still holds what was
 * read: a row a replica completed, refreshed or dropped meanwhile stays as the replica left it.
 * Member ids in byte order (as SQLite's), whatever the database's collation. Rows a newer version
 * wrote are neither read nor written.
 */
export class PostgresSealedValues implements SealedValues {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  async page(column: SealedColumn, after: number | string | null, limit: number): Promise<SealedValue[]> {
    const { table, key, column: name, id } = SEALED_TABLES[column]
    const type = id ? 'bigint' : 'text'
    const collate = id ? '' : ' COLLATE "C"'
    return this.#db.query<SealedValue>(
      `SELECT ${key} AS key, ${name} AS value FROM b24_${table}
       WHERE ${name} IS NOT NULL AND format <= ${STORED_FORMAT} AND ($1::${type} IS NULL OR ${key}${collate} > $1::${type}${collate})
       ORDER BY ${key}${collate} LIMIT $2`,
      [after, limit],
    )
  }

  async replace(column: SealedColumn, replacements: Replacement[]): Promise<number> {
    const { table, key, column: name, id } = SEALED_TABLES[column]
    const [{ written }] = (await this.#db.query<{ written: number }>(
      `WITH written AS (
         UPDATE b24_${table} t SET ${name} = r.value
         FROM unnest($1::${id ? 'bigint' : 'text'}[], $2::text[], $3::text[]) AS r(key, "from", value)
         WHERE t.${key} = r.key AND t.${name} = r."from" AND t.format <= ${STORED_FORMAT}
         RETURNING 1)
       SELECT count(*)::int AS written FROM written`,
      [replacements.map((r) => r.key), replacements.map((r) => r.from), replacements.map((r) => r.value)],
    )) as [{ written: number }]
    return written
  }
}
