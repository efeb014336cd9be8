import t from 'tap'
import { candidatesContract } from '../candidates-contract.ts'
import { openPgStore, type PgStore } from './postgres-fixture.ts'

// What every store does with candidate installs is in ../candidates-contract.ts.
candidatesContract(t, {
  open: async (t) => openPgStore(t),
  reopen: async (t, store) => openPgStore(t, { connectionString: (store as PgStore).connectionString }),
})
