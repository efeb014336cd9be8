import t from 'tap'
import fc from 'fast-check'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { freeForm } from '../../src/wire/free-form.ts'
import { parseForm } from '../../src/wire/parse-form.ts'
import { PhpFloat } from '../../src/wire/php-float.ts'
import { readPhpJson } from '../../src/wire/read-php-json.ts'
import { phpView } from '../fixtures/php-view.ts'
import { bitrixCases, readFixture } from '../helpers.ts'

t.test('reproduces every real Bitrix24 body byte for byte', async (t) => {
  for (const name of bitrixCases()) {
    const payload = readPhpJson(readFixture(`bitrix/${name}.payload.json`))
    t.equal(encodeForm(payload), readFixture(`bitrix/${name}.body.txt`), name)
  }
})

t.test('matches PHP http_build_query on hundreds of random payloads', async (t) => {
  const cases = JSON.parse(readFixture('php/http-build-query.json')) as Array<{ payload: string; body: string }>
  t.ok(cases.length >= 300)
  for (const { payload, body } of cases) t.equal(encodeForm(readPhpJson(payload)), body, payload)
})

t.test('drops nulls and empty arrays, writes booleans as 1/0', async (t) => {
  t.equal(encodeForm({ a: null, b: [], c: { d: {} }, e: true, f: false, g: '', h: undefined }), 'e=1&f=0&g=')
  t.equal(encodeForm({ l: [1, null, 3] }), 'l%5B0%5D=1&l%5B2%5D=3', 'a null in a list leaves a gap')
  t.equal(encodeForm('not an array'), '')
})

t.test('encodes text as PHP urlencode', async (t) => {
  t.equal(encodeForm({ 'a b': "x y~*!()'-_.", k: 'При😀' }), "a+b=x+y%7E%2A%21%28%29%27-_.&k=%D0%9F%D1%80%D0%B8%F0%9F%98%80")
  t.equal(encodeForm({ s: '\uD800' }), 's=%EF%BF%BD', 'a lone surrogate is sent as U+FFFD')
})

t.test('writes integers and floats as PHP does', async (t) => {
  t.equal(encodeForm({ i: 42, n: -7, big: 2n ** 62n, f: 0.1 + 0.2, e: 1e20, x: new PhpFloat(3), u: 2 ** 60 }), 'i=42&n=-7&big=4611686018427387904&f=0.3&e=1.0E%2B20&x=3&u=1.1529215046068E%2B18')
})

t.test('keeps the key order of a Map', async (t) => {
  t.equal(encodeForm(new Map<string | number, string>([['b', '1'], [2, 'x'], [0, 'y']])), 'b=1&2=x&0=y')
})

t.test('parse undoes encode: random payloads come back as PHP shows them', async () => {
  // Keys as PHP reads them back unchanged: no brackets or NUL, not one blank (`a[ ]` appends);
  // a base name also loses spaces and dots. Credentials are the decoder's business, not PHP's.
  const kept = (key: string) => !/[[\]\0]/.test(key) && !/^\s$/.test(key) && !/^(?:auth|access_token|refresh_token|application_token)$/i.test(key)
  const numeric = fc.constantFrom('0', '1', '2', '10', '-1', '01', '1.5', ' 1', '__proto__', 'constructor', 'Имя', '😀')
  const key = fc.oneof(numeric, fc.string({ unit: 'binary', minLength: 1, maxLength: 5 })).filter(kept)
  const baseName = fc.oneof(numeric, fc.string({ unit: 'binary', minLength: 1, maxLength: 6 })).filter((name) => kept(name) && !/[ .]/.test(name))
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof({ maxDepth: 3 }, fc.string({ unit: 'binary' }), fc.maxSafeInteger(), fc.boolean(), fc.constant(null), tie('list'), tie('map')),
    list: fc.array(tie('value'), { maxLength: 3 }),
    map: fc.dictionary(key, tie('value'), { maxKeys: 3 }),
  }))
  fc.assert(
    fc.property(fc.dictionary(baseName, value, { maxKeys: 5 }), (payload) => {
      const back = JSON.stringify(freeForm(parseForm(encodeForm(payload as PhpValue))) ?? [])
      const expected = JSON.stringify(phpView(payload) ?? [])
      if (back !== expected) throw new Error(`${back} != ${expected}`)
    }),
    { numRuns: 2000, seed: 20261124 },
  )
})
