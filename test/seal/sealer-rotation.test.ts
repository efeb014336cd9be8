import t from 'tap'
import { createSealer, digestKeyOf } from '../../src/seal/sealer.ts'

// A key rotation's sealer: the current key and the previous ones (B24_SECRET_KEY_PREVIOUS).
const OLD = Buffer.alloc(32, 1)
const OLDER = Buffer.alloc(32, 2)
const NEW = Buffer.alloc(32, 3)

t.test('opens what any of its keys sealed, seals with the current one only', async (t) => {
  const old = createSealer(OLD).seal('old')
  const older = createSealer(OLDER).seal('older')
  const rotating = createSealer(NEW, { previous: [OLD, OLDER] })
  t.equal(rotating.keys, 3)
  t.equal(rotating.open(old), 'old')
  t.equal(rotating.open(older), 'older')
  const fresh = rotating.seal('fresh')
  t.match(fresh, /^v1\./, 'the format every release reads')
  t.equal(createSealer(NEW).open(fresh), 'fresh', 'the new key alone opens it')
  t.throws(() => createSealer(OLD).open(fresh), { name: 'SealError' }, 'an old key does not')
  t.same([rotating.keyOf(fresh), rotating.keyOf(old), rotating.keyOf(older)], [0, 1, 2], 'which key sealed each')
})

t.test('reseal: under the current key, or null when it is already', async (t) => {
  const rotating = createSealer(NEW, { previous: [OLD] })
  const again = rotating.reseal(createSealer(OLD).seal('tokens')) as string
  t.equal(createSealer(NEW).open(again), 'tokens')
  t.equal(rotating.reseal(again), null)
})

t.test('a value no key opens is refused, naming both settings; damaged values as before', async (t) => {
  const rotating = createSealer(NEW, { previous: [OLD] })
  const foreign = createSealer(OLDER).seal('x')
  t.throws(() => rotating.open(foreign), { name: 'SealError', message: /\(B24_SECRET_KEY\) and the previous ones \(B24_SECRET_KEY_PREVIOUS\) are not the ones/ })
  t.throws(() => rotating.reseal(foreign), { name: 'SealError' })
  t.throws(() => createSealer(NEW).open(foreign), { message: /\(B24_SECRET_KEY or DATA_DIR\/secret.key\) is not the one/ })
  t.throws(() => rotating.keyOf('v2.abc'), { message: /not in a known format/ })
  t.throws(() => rotating.keyOf('v1.abc'), { message: /damaged/ })
})

t.test('keys of the wrong size are refused, a previous one by its position', async (t) => {
  t.throws(() => createSealer(NEW, { previous: [OLD, Buffer.alloc(16)] }), { name: 'ConfigError', message: 'previous secret key 2 must be 32 bytes, not 16' })
  t.throws(() => createSealer(NEW, { digestKey: Buffer.alloc(31) }), { name: 'ConfigError', message: 'the digest key must be 32 bytes, not 31' })
})

t.test('the digest: derived from the key by default, or the store’s own key, whatever the sealing key', async (t) => {
  t.equal(createSealer(OLD).digest('token'), createSealer(NEW, { digestKey: digestKeyOf(OLD) }).digest('token'), 'a kept digest key hashes as the old key did')
  t.not(createSealer(OLD).digest('token'), createSealer(NEW).digest('token'))
  t.equal(createSealer(NEW, { previous: [OLD] }).digest('token'), createSealer(NEW).digest('token'), 'previous keys do not change it')
})
