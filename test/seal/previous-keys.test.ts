import t from 'tap'
import { parsePreviousKeys, previousKeys } from '../../src/seal/secret-key.ts'

const HEX = 'ab'.repeat(32)
const BASE64 = Buffer.alloc(32, 5).toString('base64')

t.test('B24_SECRET_KEY_PREVIOUS: one or more keys, comma-separated, each in either form', async (t) => {
  t.same(parsePreviousKeys(HEX), [Buffer.alloc(32, 0xab)])
  t.same(parsePreviousKeys(` ${HEX} , ${BASE64} `), [Buffer.alloc(32, 0xab), Buffer.alloc(32, 5)])
})

t.test('a bad or empty entry is named by its position, never quoted', async (t) => {
  const secret = 'cd'.repeat(31)
  const error = t.throws(() => parsePreviousKeys(`${HEX},${secret}`), { name: 'ConfigError', message: /^B24_SECRET_KEY_PREVIOUS: key 2 must be 64 hex digits/ }) as Error
  t.notMatch(error.message, secret)
  t.throws(() => parsePreviousKeys(`${HEX},,${HEX}`), { message: 'B24_SECRET_KEY_PREVIOUS: key 2 is empty (give the old keys, comma-separated)' })
})

t.test('previousSecretKeys: bytes or text, each checked', async (t) => {
  t.same(previousKeys(undefined), [])
  t.same(previousKeys([HEX, Buffer.alloc(32, 1)]), [Buffer.alloc(32, 0xab), Buffer.alloc(32, 1)])
  t.throws(() => previousKeys([Buffer.alloc(32), Buffer.alloc(8)]), { name: 'ConfigError', message: 'previousSecretKeys[1] must be 32 bytes, not 8' })
  t.throws(() => previousKeys(['nope']), { message: /^previousSecretKeys\[0\] must be 64 hex digits/ })
})
