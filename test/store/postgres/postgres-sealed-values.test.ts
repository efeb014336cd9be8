import t from 'tap'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { PostgresSealedValues } from '../../../src/store/postgres/postgres-sealed-values.ts'
import { sealedValuesContract } from '../sealed-values-contract.ts'
import { openPgStore, sql } from './postgres-fixture.ts'

sealedValuesContract(t, {
  async open(t) {
    const store = await openPgStore(t)
    const url = store.connectionString
    const db = new PostgresDatabase({ connectionString: url })
    t.teardown(() => db.end())
    return { store, values: new PostgresSealedValues(db), exec: async (text) => void (await sql(url, text)), table: (name) => `b24_${name}` }
  },
})
