import type { Database, Statement } from 'better-sqlite3'
import type { Replacement, SealedColumn, SealedValue, SealedValues } from '../sealed-values.ts'
import { STORED_FORMAT } from '../format.ts'
import { SEALED_TABLES } from '../sealed-tables.ts'

/**
 * The embedded store's sealed values, read and written on a connection of their own (`keys
 * rotate` runs beside a running service, as `dlq` does): each batch one immediate transaction,
 * each value written only where its row still holds what was read. Rows a newer version wrote
 * are neither read nor written.
 */
export class SqliteSealedValues implements SealedValues {
  readonly #db: Database
  readonly #sql = new Map<string, Statement>()

  constructor(db: Database) {
    this.#db = db
  }

  async page(column: SealedColumn, after: number | string | null, limit: number): Promise<SealedValue[]> {
    const { table, key, column: name } = SEALED_TABLES[column]
    const from = after === null ? '' : `AND ${key} > @after`
    const statement = this.#statement(
      `page ${column} ${after === null}`,
      `SELECT ${key} AS key, ${name} AS value FROM ${table} WHERE ${name} IS NOT NULL AND format <= ${STORED_FORMAT} ${from} ORDER BY ${key} LIMIT @limit`,
    )
    return statement.all(after === null ? { limit } : { after, limit }) as SealedValue[]
  }

  async replace(column: SealedColumn, replacements: Replacement[]): Promise<number> {
    const { table, key, column: name } = SEALED_TABLES[column]
    const statement = this.#statement(`replace ${column}`, `UPDATE ${table} SET ${name} = @value WHERE ${key} = @key AND ${name} = @from AND format <= ${STORED_FORMAT}`)
    return this.#db.transaction(() => replacements.reduce((written, replacement) => written + statement.run(replacement).changes, 0)).immediate()
  }

  #statement(name: string, text: string): Statement {
    let statement = this.#sql.get(name)
    if (!statement) {
      statement = this.#db.prepare(text)
      this.#sql.set(name, statement)
    }
    return statement
  }
}
