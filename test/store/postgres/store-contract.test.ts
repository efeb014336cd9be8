import t from 'tap'
import type { Store } from '../../../src/store/store.ts'
import { claimsContract } from '../claims-contract.ts'
import { formatContract } from '../format-contract.ts'
import { storeContract } from '../store-contract.ts'
import { openPgStore, sql, type PgStore } from './postgres-fixture.ts'

// The PostgreSQL store keeps the Store contract; replicas, notifications and an unreachable
// database are in the tests beside this one.
const subject = {
  open: async (t: Parameters<typeof openPgStore>[0], options = {}) => openPgStore(t, options),
  reopen: async (t: Parameters<typeof openPgStore>[0], store: Store, options = {}) => openPgStore(t, { ...options, connectionString: urlOf(store) }),
}
const urlOf = (store: Store) => (store as PgStore).connectionString

storeContract(t, subject)
claimsContract(t, subject)
formatContract(t, {
  ...subject,
  setFormat: async (_t, store, table, where, format) => void (await sql(urlOf(store), `UPDATE b24_${table} SET format = $1 WHERE ${where}`, [format])),
})
