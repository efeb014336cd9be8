import t from 'tap'
import type { Store } from '../../../src/store/store.ts'
import { storeContract } from '../store-contract.ts'
import { openStore } from './sqlite-fixture.ts'

// The embedded store keeps the Store contract; what it does beyond it is in the tests beside this one.
storeContract(t, {
  open: async (t, options = {}) => openStore(t, options),
  reopen: async (t, store, options = {}) => openStore(t, { ...options, dataDir: (store as Store & { dataDir: string }).dataDir }),
})
