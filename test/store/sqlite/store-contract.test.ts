import t from 'tap'
import type { Store } from '../../../src/store/store.ts'
import { claimsContract } from '../claims-contract.ts'
import { formatContract } from '../format-contract.ts'
import { storeContract } from '../store-contract.ts'
import { openStore, otherConnection } from './sqlite-fixture.ts'

// The embedded store keeps the Store contract; what it does beyond it is in the tests beside this one.
const subject = {
  open: async (t: Parameters<typeof openStore>[0], options = {}) => openStore(t, options),
  reopen: async (t: Parameters<typeof openStore>[0], store: Store, options = {}) => openStore(t, { ...options, dataDir: dataDirOf(store) }),
}
const dataDirOf = (store: Store) => (store as Store & { dataDir: string }).dataDir

storeContract(t, subject)
claimsContract(t, subject)
formatContract(t, {
  ...subject,
  setFormat: async (t, store, table, where, format) => void otherConnection(t, dataDirOf(store)).prepare(`UPDATE ${table} SET format = ? WHERE ${where}`).run(format),
})
