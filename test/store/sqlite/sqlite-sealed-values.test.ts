import t from 'tap'
import { openDatabase } from '../../../src/store/sqlite/open-database.ts'
import { SqliteSealedValues } from '../../../src/store/sqlite/sqlite-sealed-values.ts'
import { sealedValuesContract } from '../sealed-values-contract.ts'
import { openStore, otherConnection } from './sqlite-fixture.ts'

sealedValuesContract(t, {
  async open(t) {
    const store = openStore(t)
    const db = openDatabase(store.dataDir)
    t.teardown(() => db.close())
    const other = otherConnection(t, store.dataDir)
    return { store, values: new SqliteSealedValues(db), exec: async (sql) => void other.exec(sql), table: (name) => name }
  },
})
