import fc from 'fast-check'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { ConfigError } from '../../src/errors.ts'
import { createSealer, SealError } from '../../src/seal/sealer.ts'

const key = randomBytes(32)
const sealer = createSealer(key)
const secret = '{"access_token":"a1b2c3d4e5f6","refresh_token":"r9s8t7u6"}'

const WRONG_KEY = /^cannot open sealed credentials: the secret key \(B24_SECRET_KEY or DATA_DIR\/secret\.key\) is not the one they were sealed with/
const DAMAGED = /^cannot open sealed credentials: they are damaged/
const EITHER = /^cannot open sealed credentials: (they are damaged|the secret key)/
const UNKNOWN = /^cannot open sealed credentials: they are not in a known format/

/** `sealed` with its decoded bytes changed by `change`, and encoded again. */
const rewritten = (sealed: string, change: (body: Buffer) => Buffer) => 'v1.' + change(Buffer.from(sealed.slice(3), 'base64url')).toString('base64url')

t.test('opens what it sealed', async (t) => {
  for (const plain of [secret, '', 'ключ 🔑 鍵 ✓', '\u0000\n\t', 'x'.repeat(100_000)]) t.equal(sealer.open(sealer.seal(plain)), plain)
  t.equal(createSealer(Buffer.from(key)).open(sealer.seal(secret)), secret, 'another sealer with the same key')
})

t.test('seals as v1. and base64url of a fresh IV, the ciphertext and a tag', async (t) => {
  const first = sealer.seal(secret)
  const second = sealer.seal(secret)
  t.match(first, /^v1\.[A-Za-z0-9_-]+$/)
  t.equal(Buffer.from(first.slice(3), 'base64url').length, 12 + Buffer.byteLength(secret) + 16)
  t.equal(Buffer.from(sealer.seal('').slice(3), 'base64url').length, 28)
  t.not(first, second)
  t.not(first.slice(3, 19), second.slice(3, 19), 'a new IV each time')
  for (const hidden of ['a1b2c3d4e5f6', Buffer.from(secret).toString('base64url'), Buffer.from(secret).toString('base64')]) t.notOk(first.includes(hidden))
})

t.test('keeps its own copy of the key', async (t) => {
  const own = Buffer.from(key)
  const copy = createSealer(own)
  own.fill(0)
  t.equal(copy.open(sealer.seal(secret)), secret)
})

t.test('refuses a key of the wrong size', async (t) => {
  for (const size of [0, 16, 31, 33, 64]) t.throws(() => createSealer(Buffer.alloc(size)), ConfigError, `${size} bytes`)
  t.throws(() => createSealer(Buffer.alloc(31)), { message: 'the secret key must be 32 bytes, not 31' })
})

t.test('will not open with another key', async (t) => {
  const sealed = sealer.seal(secret)
  const error = t.throws(() => createSealer(randomBytes(32)).open(sealed), { name: 'SealError', message: WRONG_KEY }) as SealError
  t.ok(error instanceof SealError)
  t.notOk(error.message.includes(sealed.slice(3)) || error.message.includes(secret))
})

t.test('will not open an altered value', async (t) => {
  const sealed = sealer.seal(secret)
  const length = Buffer.from(sealed.slice(3), 'base64url').length
  for (let at = 0; at < length; at++) {
    const flipped = rewritten(sealed, (body) => {
      body[at]! ^= 0x01
      return body
    })
    t.throws(() => sealer.open(flipped), { name: 'SealError', message: WRONG_KEY }, `byte ${at} flipped`)
  }
  t.throws(() => sealer.open(rewritten(sealed, (body) => Buffer.concat([body, Buffer.from([0])]))), { message: WRONG_KEY }, 'a byte added')
  t.throws(() => sealer.open(sealed.slice(0, 10) + (sealed[10] === 'A' ? 'B' : 'A') + sealed.slice(11)), { message: WRONG_KEY }, 'a character changed')
  const swapped = rewritten(sealed, (body) => Buffer.concat([randomBytes(12), body.subarray(12)]))
  t.throws(() => sealer.open(swapped), { message: WRONG_KEY }, 'another IV')
})

t.test('will not open a value cut short or badly encoded', async (t) => {
  const sealed = sealer.seal(secret)
  t.throws(() => sealer.open(rewritten(sealed, (body) => body.subarray(0, body.length - 1))), { name: 'SealError', message: WRONG_KEY }, 'one byte short')
  // A cut string may still be exact base64url (of fewer bytes): then it is the tag that fails.
  for (let cut = 1; cut <= 8; cut++) t.throws(() => sealer.open(sealed.slice(0, -cut)), { name: 'SealError', message: EITHER }, `${cut} characters short`)
  t.throws(() => sealer.open(rewritten(sealed, (body) => body.subarray(0, 27))), { message: DAMAGED }, 'shorter than IV and tag')
  t.throws(() => sealer.open('v1.'), { message: DAMAGED }, 'nothing after the prefix')
  t.throws(() => sealer.open(sealed + '='), { message: DAMAGED }, 'padding')
  t.throws(() => sealer.open(sealed.slice(0, 20) + '+' + sealed.slice(21)), { message: DAMAGED }, 'a base64 character')
  t.throws(() => sealer.open(sealed.slice(0, 20) + ' ' + sealed.slice(20)), { message: DAMAGED }, 'a space inside')
  t.throws(() => sealer.open(sealed + '\n'), { message: DAMAGED }, 'a trailing line break')
})

t.test('will not open an unknown format', async (t) => {
  const sealed = sealer.seal(secret)
  for (const other of ['v2.' + sealed.slice(3), sealed.slice(3), 'V1.' + sealed.slice(3), ' ' + sealed, '', secret]) {
    const error = t.throws(() => sealer.open(other), { name: 'SealError', message: UNKNOWN }) as SealError
    t.notOk(error.message.includes(sealed.slice(3)) || error.message.includes(secret))
  }
})

t.test('will not seal text UTF-8 cannot keep', async (t) => {
  for (const plain of ['\uD800', 'a\uDC00b', 'end\uD83D']) t.throws(() => sealer.seal(plain), { name: 'SealError', message: /lone UTF-16 surrogate/ })
  t.equal(sealer.open(sealer.seal('\uD83D\uDD11')), '🔑', 'a pair is fine')
})

// Any code point but a surrogate: fast-check's own `binary` unit takes seconds to build under coverage.
const codePoint = fc
  .integer({ min: 0, max: 0x10ffff })
  .filter((code) => code < 0xd800 || code > 0xdfff)
  .map((code) => String.fromCodePoint(code))

t.test('opens whatever it sealed', async () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string({ unit: codePoint }), fc.string({ unit: 'grapheme', maxLength: 200 })), (plain) => {
      if (sealer.open(sealer.seal(plain)) !== plain) throw new Error('round trip')
    }),
    { numRuns: 300 },
  )
})

t.test('digest: the same text gives the same hash under one key, another under another key, and never the text', async (t) => {
  const one = createSealer(Buffer.alloc(32, 1))
  const two = createSealer(Buffer.alloc(32, 2))
  const token = '51856fefc120afa4b628cc82d3935cce'
  t.equal(one.digest(token), one.digest(token))
  t.match(one.digest(token), /^[0-9a-f]{64}$/)
  t.not(one.digest(token), two.digest(token))
  t.not(one.digest(token), one.digest(token + 'x'))
  t.notMatch(one.digest(token), token)
})
