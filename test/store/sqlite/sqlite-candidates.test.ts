import t from 'tap'
import type { Store } from '../../../src/store/store.ts'
import { candidatesContract } from '../candidates-contract.ts'
import { openStore } from './sqlite-fixture.ts'

// What every store does with candidate installs is in ../candidates-contract.ts.
candidatesContract(t, {
  open: async (t) => openStore(t),
  reopen: async (t, store) => openStore(t, { dataDir: (store as Store & { dataDir: string }).dataDir }),
})
