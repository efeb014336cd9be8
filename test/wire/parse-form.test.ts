import t from 'tap'
import fc from 'fast-check'
import { DEFAULT_FORM_LIMITS, FormParseError, parseForm } from '../../src/wire/parse-form.ts'
import { freeForm } from '../../src/wire/free-form.ts'
import { asJson, readFixture } from '../helpers.ts'

const parsed = (body: string) => asJson(parseForm(body))

t.test('nests bracket keys and decodes as PHP does', async (t) => {
  t.same(parsed('data%5Bmessage%5D%5Bid%5D=5012&data%5Bmessage%5D%5Btext%5D=a+b%2Bc%26d'), {
    data: { message: { id: '5012', text: 'a b+c&d' } },
  })
  t.same(parsed('t=%D0%9F%D1%80%D0%B8%F0%9F%98%80'), { t: 'При😀' })
  t.same(parsed('a=%ZZ%4'), { a: '%ZZ%4' }, 'a stray % stays')
  t.same(parsed('a=%FF%E2%82'), { a: '\uFFFD\uFFFD' }, 'bytes that are not UTF-8 become U+FFFD')
  t.same(parsed('a=%E2%82%ZZ'), { a: '\uFFFD%ZZ' })
  t.same(parsed('x=%F0%9F%98%80%zz😀é'), { x: '😀%zz😀é' }, 'raw characters survive the slow path')
})

t.test('keeps lists with their explicit indices, sparse ones too', async (t) => {
  t.same(parsed('l[0]=a&l[2]=c'), { l: { 0: 'a', 2: 'c' } })
  t.same(freeForm(parseForm('l[0]=a&l[1]=b')), { l: ['a', 'b'] })
})

t.test('appends with key[] after the largest integer key', async (t) => {
  t.same(parsed('z[]=1&z[]=2&z[5]=3&z[]=4&z[x]=5&z[]=6'), { z: { 0: '1', 1: '2', 5: '3', 6: '4', x: '5', 7: '6' } })
  t.same(parsed('a[][x]=1&a[][x]=2'), { a: { 0: { x: '1' }, 1: { x: '2' } } })
  t.same(parsed('b[ ]=1&b[%09]=2&b[  ]=3'), { b: { 0: '1', 1: '2', '  ': '3' } }, 'one blank between brackets appends')
})

t.test('resolves duplicates as PHP does: the last wins, a scalar given children becomes a map', async (t) => {
  t.same(parsed('a=1&a=2'), { a: '2' })
  t.same(parsed('w=1&w[k]=2'), { w: { k: '2' } })
  t.same(parsed('v[k]=1&v=2'), { v: '2' })
})

t.test('reads odd names as PHP does', async (t) => {
  t.same(parsed('a.b=1&a b[c.d]=2'), { a_b: { 'c.d': '2' } }, 'dots and spaces of a base name become _')
  t.same(parsed('x[y=3&p[q][r=4&t[a]b=8'), { x_y: '3', p: { q: '4' }, t: { a: '8' } }, 'unclosed and trailing brackets')
  t.same(parsed('x[a.b[c=1'), { 'x_a_b_c': '1' })
  t.same(parsed('%20%20lead=5&[a]=6&=7&u&&a%00b=9'), { lead: '5', u: '', a: '9' }, 'nameless pairs are skipped')
  t.same(parsed(''), {})
})

t.test('matches PHP parse_str on hundreds of random bodies', async (t) => {
  const cases = JSON.parse(readFixture('php/parse-str.json')) as Array<{ body: string; php: string }>
  t.ok(cases.length >= 800)
  for (const { body, php } of cases) t.same(asJson(freeForm(parseForm(body)) ?? []), JSON.parse(php), body)
})

t.test('never pollutes a prototype, whatever the keys', async (t) => {
  const body = '__proto__[polluted]=1&constructor[prototype][polluted]=2&a[__proto__][polluted]=3&a[constructor][prototype][x]=4&__proto__=5'
  const form = parseForm(body)
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal(Object.getPrototypeOf(form), null)
  t.same(Object.keys(form), ['__proto__', 'constructor', 'a'])
  t.equal(form.__proto__, '5')
  t.same(asJson(form.a), { __proto__: { polluted: '3' }, constructor: { prototype: { x: '4' } } })
})

t.test('refuses a body past a limit with a clear error', async (t) => {
  const { maxPairs } = DEFAULT_FORM_LIMITS
  const pairs = Array.from({ length: maxPairs + 1 }, (_, i) => `k${i}=1`).join('&')
  t.throws(() => parseForm(pairs), new FormParseError(`more than ${maxPairs} form fields`))
  t.equal(Object.keys(parseForm(pairs, { maxPairs: maxPairs + 1 })).length, maxPairs + 1)
  t.throws(() => parseForm('a=1&b=2', { maxPairs: 1 }), { statusCode: 400, code: 'MALFORMED_BODY' })
  const deep = (levels: number) => 'a' + '[x]'.repeat(levels) + '=1'
  t.doesNotThrow(() => parseForm(deep(DEFAULT_FORM_LIMITS.maxDepth)))
  t.throws(() => parseForm(deep(DEFAULT_FORM_LIMITS.maxDepth + 1)), /nests deeper than 64 levels/)
  t.throws(() => parseForm('k'.repeat(1025) + '=1'), /longer than 1024 characters/)
  parseForm('a[b][c]=1')
  t.throws(() => parseForm('a[b][c]=1', { maxDepth: 1 }), FormParseError, 'a key read before under other limits')
  t.throws(() => parseForm('a+b' + '[x]'.repeat(65) + '=1'), /nests deeper/, 'a key that needs decoding')
  t.throws(() => parseForm('a%20b[c][d]=1', { maxDepth: 1 }), /nests deeper/)
  t.throws(() => parseForm('k'.repeat(300) + '=1', { maxKeyLength: 299 }), /longer than 299/, 'a key too long to be kept')
  t.same(parsed('[x]=1&[x]=2'), {}, 'a nameless key read twice')
})

t.test('random garbage never throws anything but its own error', async () => {
  const garbage = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('[', ']', '%', '&', '=', '+', '.', ' ', 'a', '0', 'F', '%00', '%5B') }))
  fc.assert(
    fc.property(garbage, fc.integer({ min: 1, max: 5 }), (body, maxDepth) => {
      try {
        parseForm(body, { maxDepth, maxPairs: 20, maxKeyLength: 30 })
      } catch (error) {
        if (!(error instanceof FormParseError)) throw error
      }
    }),
    { numRuns: 5000, seed: 20261124 },
  )
})

t.test('reads keys alike once its key cache is full', async (t) => {
  const body = Array.from({ length: 5000 }, (_, i) => `data%5Bk${i}%5D=${i}`).join('&')
  const first = parseForm(body)
  t.strictSame(parseForm(body), first)
  t.equal(Object.keys(first.data as object).length, 5000)
  t.equal(JSON.stringify(parseForm('data%5Bunseen%5D%5Bkey%5D=1')), '{"data":{"unseen":{"key":"1"}}}', 'a key first seen with the cache full')
})
