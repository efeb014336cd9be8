import t from 'tap'
import { CHECK_KEY, checkOpener, checkSealKey, describeWrongKey, sealCheckAgain } from '../../src/seal/check-seal-key.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

const OLD = Buffer.alloc(32, 1)
const NEW = Buffer.alloc(32, 2)

t.test('during a rotation the store sealed by a previous key passes, and says which key opened it', async (t) => {
  const store = new MemoryStore()
  t.equal(await checkSealKey(store, createSealer(OLD)), 0, 'a new check: sealed by the current key')
  const check = await store.meta.get(CHECK_KEY)
  t.equal(await checkSealKey(store, createSealer(NEW, { previous: [Buffer.alloc(32, 9), OLD] })), 2, 'the second previous key')
  t.equal(await store.meta.get(CHECK_KEY), check, 'the check is left as it is: keys rotate seals it again')
  t.equal(await checkOpener(store, createSealer(NEW, { previous: [OLD] })), 1)
  await sealCheckAgain(store, createSealer(NEW, { previous: [OLD] }))
  t.equal(await checkSealKey(store, createSealer(NEW)), 0, 'sealed again under the new key: the new key alone opens it')
  await t.rejects(checkSealKey(store, createSealer(OLD)), { name: 'ConfigError', message: /^secretKey is not the key that sealed the credentials in this store: give the key they were sealed with$/ }, 'a replica given only the old key starts no more')
})

t.test('a key that opens nothing is still refused, the previous keys named too', async (t) => {
  const store = new MemoryStore()
  await checkSealKey(store, createSealer(OLD))
  await t.rejects(checkSealKey(store, createSealer(NEW, { previous: [Buffer.alloc(32, 9)] })), { name: 'ConfigError', message: /^secretKey is not the key that sealed the credentials in this store, nor is any of previousSecretKeys:/ })
  t.match(describeWrongKey('B24_SECRET_KEY', { given: true, keyFile: null, previous: true }), /^B24_SECRET_KEY is not the key that sealed the credentials in this store, nor is any of B24_SECRET_KEY_PREVIOUS:/)
  t.equal(await checkOpener(new MemoryStore(), createSealer(OLD)), null, 'no check yet: nothing opens it')
  t.equal(await checkOpener(store, createSealer(NEW)), null)
})

t.test('a store that cannot be read yet is not checked', async (t) => {
  const store = new MemoryStore()
  store.failing = true
  t.equal(await checkSealKey(store, createSealer(NEW, { previous: [OLD] })), null)
})
