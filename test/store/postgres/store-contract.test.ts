import t from 'tap'
import { storeContract } from '../store-contract.ts'
import { openPgStore, type PgStore } from './postgres-fixture.ts'

// The PostgreSQL store keeps the Store contract; replicas, notifications and an unreachable
// database are in the tests beside this one.
storeContract(t, {
  open: async (t, options = {}) => openPgStore(t, options),
  reopen: async (t, store, options = {}) => openPgStore(t, { ...options, connectionString: (store as PgStore).connectionString }),
})
