import t from 'tap'
import { checkSealKey, describeWrongKey, inServiceWords, WrongSealKeyError } from '../../src/seal/check-seal-key.ts'
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
  await t.rejects(checkSealKey(store, createSealer(Buffer.alloc(32, 2))), { name: 'ConfigError', message: 'secretKey is not the key that sealed the credentials in this store: give the key they were sealed with' })
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

t.test('says where the right key likely is: the key file that opens the store, or a key given before', async (t) => {
  const store = new MemoryStore()
  await checkSealKey(store, sealer)
  const keyFile = '/srv/data/secret.key'
  await t.rejects(checkSealKey(store, createSealer(Buffer.alloc(32, 2)), { given: true, keyFile }, async () => sealer), {
    message: `secretKey is not the key that sealed the credentials in this store: give the key they were sealed with; the key file ${keyFile} opens them: leave secretKey unset, or set it to that file's key`,
  })
  await t.rejects(checkSealKey(store, createSealer(Buffer.alloc(32, 2)), { given: true, keyFile }, async () => createSealer(Buffer.alloc(32, 3))), {
    message: 'secretKey is not the key that sealed the credentials in this store: give the key they were sealed with',
  })
  await t.rejects(checkSealKey(store, createSealer(Buffer.alloc(32, 2)), { given: false, keyFile }), {
    message: `the key file ${keyFile} is not the key that sealed the credentials in this store: they were sealed under a key given in secretKey, give it again`,
  })
  t.equal(describeWrongKey('B24_SECRET_KEY', { given: true, keyFile, keyFileOpens: true }), `B24_SECRET_KEY is not the key that sealed the credentials in this store: give the key they were sealed with; the key file ${keyFile} opens them: leave B24_SECRET_KEY unset, or set it to that file's key`)
})

t.test("the service tells a wrong key in its own words, and any other error as it is", async (t) => {
  t.match(inServiceWords(new WrongSealKeyError({ given: true, keyFile: null })), { name: 'ConfigError', message: /^B24_SECRET_KEY is not the key that sealed/ })
  const other = new Error('disk full')
  t.equal(inServiceWords(other), other)
})
