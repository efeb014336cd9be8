import t from 'tap'
import { unseal } from '../../src/receiver/unseal.ts'
import { checkSealKey, sealCheckAgain } from '../../src/seal/check-seal-key.ts'
import { keepDigestKey } from '../../src/seal/digest-key.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import { MemoryStore } from '../fakes/memory-store.ts'

const OLD = Buffer.alloc(32, 1)
const NEW = Buffer.alloc(32, 2)
const NO_KEY_FILE = { keyDir: null }

const warnings = () => {
  const said: string[] = []
  return { said, logger: { warn: (message: string) => void said.push(message) } }
}

t.test('a store sealed by a previous key: accepted, said once, sealed from now on under the new key, hashing as before', async (t) => {
  const store = new MemoryStore()
  await checkSealKey(store, createSealer(OLD))
  const { said, logger } = warnings()
  const sealer = await unseal(store, NEW, NO_KEY_FILE, { previous: [OLD], logger })
  t.equal(said.length, 1)
  t.match(said[0], /^the store is sealed under previous key 1 \(B24_SECRET_KEY_PREVIOUS\): .*run `b24-receiver keys rotate`/)
  t.equal(createSealer(NEW).open(sealer.seal('x')), 'x')
  t.equal(sealer.digest('token'), createSealer(OLD).digest('token'), "the old key's digest key")
})

t.test('after the rotation, the new key alone hashes with the kept digest key', async (t) => {
  const store = new MemoryStore()
  await checkSealKey(store, createSealer(OLD))
  await keepDigestKey(store, createSealer(NEW, { previous: [OLD] }), [NEW, OLD])
  await sealCheckAgain(store, createSealer(NEW))
  const { said, logger } = warnings()
  const sealer = await unseal(store, NEW, NO_KEY_FILE, { logger })
  t.same(said, [])
  t.equal(sealer.digest('token'), createSealer(OLD).digest('token'))
})

t.test('a key that opens nothing is still refused; during a rotation, a store not readable yet is tried again', async (t) => {
  const store = new MemoryStore()
  await checkSealKey(store, createSealer(OLD))
  await t.rejects(unseal(store, NEW, NO_KEY_FILE, { previous: [Buffer.alloc(32, 9)] }), { name: 'ConfigError', message: /nor is any of previousSecretKeys/ })
  store.failing = true
  await t.rejects(unseal(store, NEW, NO_KEY_FILE, { previous: [OLD] }), { name: 'Error', message: /^the store cannot be read yet to tell which key sealed it/ })
  const plain = await unseal(store, NEW, NO_KEY_FILE)
  t.equal(plain.digest('token'), createSealer(NEW).digest('token'), 'without a rotation, as before: not checked')
})
