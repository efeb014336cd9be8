import t from 'tap'
import { checkSealKey } from '../../src/seal/check-seal-key.ts'
import { DIGEST_KEY, keepDigestKey, storeDigestKey } from '../../src/seal/digest-key.ts'
import { createSealer, digestKeyOf } from '../../src/seal/sealer.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

const OLD = Buffer.alloc(32, 1)
const NEW = Buffer.alloc(32, 2)
const NEWER = Buffer.alloc(32, 3)

t.test('before any rotation: derived from the key that sealed the store', async (t) => {
  const store = new MemoryStore()
  t.same(await storeDigestKey(store, createSealer(NEW), [NEW], null), digestKeyOf(NEW), 'a new store: the current key')
  t.same(await storeDigestKey(store, createSealer(NEW, { previous: [OLD] }), [NEW, OLD], 1), digestKeyOf(OLD), 'sealed by a previous key: that one')
})

t.test('kept by the rotation, sealed under the new key, then read whatever key is current', async (t) => {
  const store = new MemoryStore()
  await checkSealKey(store, createSealer(OLD))
  const rotating = createSealer(NEW, { previous: [OLD] })
  t.equal(await keepDigestKey(store, rotating, [NEW, OLD]), true)
  const kept = (await store.meta.get(DIGEST_KEY)) as string
  t.equal(createSealer(NEW).open(kept), digestKeyOf(OLD).toString('hex'), 'the old key’s digest key, sealed under the new key')
  t.equal(await keepDigestKey(store, rotating, [NEW, OLD]), false, 'run again: nothing to do')
  t.same(await storeDigestKey(store, createSealer(NEW), [NEW], 0), digestKeyOf(OLD), 'after the rotation, the new key alone reads it')
  // A second rotation seals it again, unchanged.
  t.equal(await keepDigestKey(store, createSealer(NEWER, { previous: [NEW] }), [NEWER, NEW]), true)
  t.same(await storeDigestKey(store, createSealer(NEWER), [NEWER], 0), digestKeyOf(OLD))
  await t.rejects(storeDigestKey(store, createSealer(OLD), [OLD], 0), { name: 'ConfigError', message: /digest key \(seal.digest-key\) opens with none of the keys given/ })
  await t.rejects(keepDigestKey(store, createSealer(OLD), [OLD]), { name: 'ConfigError', message: /opens with none of the keys given: give the key it is sealed under/ })
})

t.test('no key opens the store: refused, nothing written; a store never started: the current key', async (t) => {
  const store = new MemoryStore()
  await checkSealKey(store, createSealer(OLD))
  await t.rejects(keepDigestKey(store, createSealer(NEW), [NEW]), { name: 'ConfigError', message: /none of the keys given opens this store/ })
  t.equal(await store.meta.get(DIGEST_KEY), null)
  const fresh = new MemoryStore()
  await keepDigestKey(fresh, createSealer(NEW), [NEW])
  t.equal(createSealer(NEW).open((await fresh.meta.get(DIGEST_KEY)) as string), digestKeyOf(NEW).toString('hex'))
})
