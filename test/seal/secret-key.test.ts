import t from 'tap'
import { ConfigError } from '../../src/errors.ts'
import { parseSecretKey } from '../../src/seal/secret-key.ts'

const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff))
// 0xfb 0xef 0xbe and 0xff in base64 are `++++` and `////`: the two characters beyond letters and digits.
const symbols = Buffer.concat([Buffer.from([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff]), bytes.subarray(6)])

t.test('reads 64 hex digits, either case', async (t) => {
  const hex = bytes.toString('hex')
  t.same(parseSecretKey(hex), bytes)
  t.same(parseSecretKey(hex.toUpperCase()), bytes)
  t.same(parseSecretKey(hex.slice(0, 32) + hex.slice(32).toUpperCase()), bytes)
  t.same(parseSecretKey('0'.repeat(64)), Buffer.alloc(32))
})

t.test('reads padded base64 of exactly 32 bytes', async (t) => {
  const base64 = bytes.toString('base64')
  t.equal(base64.length, 44)
  t.match(base64, /[^=]=$/)
  t.same(parseSecretKey(base64), bytes)
  t.match(symbols.toString('base64'), /^\+\+\+\+\/\/\/\//)
  t.same(parseSecretKey(symbols.toString('base64')), symbols)
  t.same(parseSecretKey(Buffer.alloc(32, 0xff).toString('base64')), Buffer.alloc(32, 0xff))
})

t.test('refuses anything else, naming the variable and never the value', async (t) => {
  const hex = bytes.toString('hex')
  const base64 = bytes.toString('base64')
  const refused: Record<string, string> = {
    'empty': '',
    '63 hex digits': hex.slice(1),
    '65 hex digits': hex + 'a',
    '128 hex digits': hex + hex,
    'a non-hex digit': 'g' + hex.slice(1),
    'a 0x prefix': '0x' + hex.slice(2),
    'a space inside hex': hex.slice(0, 32) + ' ' + hex.slice(32),
    'leading blank': ' ' + hex,
    'trailing newline': hex + '\n',
    'unpadded base64': base64.slice(0, -1),
    'doubled padding': base64 + '=',
    'padding inside': base64.slice(0, 20) + '=' + base64.slice(21),
    'base64 of 31 bytes': bytes.subarray(1).toString('base64'),
    'base64 of 33 bytes': Buffer.concat([bytes, Buffer.from([1])]).toString('base64'),
    'base64 of 16 bytes': bytes.subarray(16).toString('base64'),
    'base64 of 48 bytes': Buffer.concat([bytes, bytes.subarray(16)]).toString('base64'),
    'base64url characters': symbols.toString('base64url') + '=',
    'a character outside the alphabet': '*' + base64.slice(1),
    'a space inside base64': base64.slice(0, 20) + ' ' + base64.slice(21),
    'a line break inside base64': base64.slice(0, 22) + '\n' + base64.slice(22),
    'trailing blank after base64': base64 + ' ',
    'base64 with unused bits set': base64.slice(0, 42) + String.fromCharCode(base64.charCodeAt(42) + 1) + '=',
  }
  for (const [what, value] of Object.entries(refused)) {
    const error = t.throws(() => parseSecretKey(value), ConfigError, what) as ConfigError
    t.equal(error.message, 'B24_SECRET_KEY must be 64 hex digits (openssl rand -hex 32) or base64 of exactly 32 bytes (openssl rand -base64 32)', what)
    if (value !== '') t.notOk(error.message.includes(value.trim()), `${what}: the value stays out of the message`)
  }
  t.throws(() => parseSecretKey('nope', '/data/secret.key'), { name: 'ConfigError', message: /^\/data\/secret\.key must be 64 hex digits/ })
})
