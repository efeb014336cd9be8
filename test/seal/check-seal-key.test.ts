import t from 'tap'
import { checkSealKey } from '../../src/seal/check-seal-key.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

const sealer = createSealer(Buffer.alloc(32, 1))

t.test('the first start leaves a sealed check; the same key passes it, another is refused', async (t) => {
  const store = new MemoryStore()
  await checkSealKey(store, sealer)
  const check = await store.meta.get('seal.check')
  t.match(check, /^v1\./, 'sealed, not in clear')
  await checkSealKey(store, createSealer(Buffer.alloc(32, 1)))
  t.equal(await store.meta.get('seal.check'), check, 'kept as it was')
  await t.rejects(checkSealKey(store, createSealer(Buffer.alloc(32, 2))), { name: 'ConfigError', message: /B24_SECRET_KEY \(secretKey\) is not the key that sealed the credentials in this store/ })
})

t.test('a check that opens to something else is refused too', async (t) => {
  const store = new MemoryStore()
  await store.meta.set('seal.check', sealer.seal('another text'))
  await t.rejects(checkSealKey(store, sealer), { name: 'ConfigError' })
})

t.test('a store that cannot be read yet is not checked', async (t) => {
  const store = new MemoryStore()
  store.failing = true
  await checkSealKey(store, sealer)
  store.failing = false
  t.equal(await store.meta.get('seal.check'), null)
})
