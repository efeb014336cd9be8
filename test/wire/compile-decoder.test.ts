import t from 'tap'
import Type from 'typebox'
import { Settings } from 'typebox/system'
import { Errors } from 'typebox/value'
import { Nullable } from '../../schemas/primitives.ts'
import { compileDecoder } from '../../src/wire/compile-decoder.ts'

const range = (length: number) => Array.from({ length }, (_, i) => i)
const Wide = Type.Object(Object.fromEntries(range(30).map((i) => [`f${i}`, Type.Integer()])))

t.test('reports every failing field of a body, not only TypeBox’s first 8', async (t) => {
  const body = Object.fromEntries(range(30).map((i) => [`f${i}`, 'x']))
  const issues = range(30).map((i) => ({ path: `/data/f${i}`, message: 'must be integer' }))
  t.strictSame(compileDecoder(Wide)(body, '/data'), { ok: false, issues })
  const Optional = Type.Object(Object.fromEntries(range(30).map((i) => [`f${i}`, Type.Optional(Type.Integer())])))
  t.strictSame(compileDecoder(Optional)(body, '/data'), { ok: false, issues }, 'optional fields too')
})

t.test('and so at every depth: nested objects, list items, unions and missing fields, in schema order', async (t) => {
  const Deep = Type.Object({
    head: Type.Integer(),
    items: Type.Array(Type.Integer()),
    inner: Type.Object({ ...Wide.properties, date: Nullable(Type.String()) }),
    tail: Type.Boolean(),
  })
  const decoded = compileDecoder(Deep)({
    items: range(12).map(() => 'x'),
    inner: { ...Object.fromEntries(range(10).map((i) => [`f${i}`, 'x'])), date: { a: '1' } },
    tail: 'maybe',
  })
  t.strictSame(decoded, {
    ok: false,
    issues: [
      { path: '/head', message: 'is required' },
      ...range(12).map((i) => ({ path: `/items/${i}`, message: 'must be integer' })),
      ...range(20).map((i) => ({ path: `/inner/f${i + 10}`, message: 'is required' })),
      ...range(10).map((i) => ({ path: `/inner/f${i}`, message: 'must be integer' })),
      { path: '/inner/date', message: 'must be string or null' },
      { path: '/tail', message: 'must be boolean' },
    ],
  })
})

t.test('cuts only a single union at TypeBox’s cap (the contract has none that wide)', async (t) => {
  const decoded = compileDecoder(Type.Object({ u: Nullable(Wide) }))({ u: Object.fromEntries(range(30).map((i) => [`f${i}`, 'x'])) })
  t.strictSame(decoded, { ok: false, issues: range(8).map((i) => ({ path: `/u/f${i}`, message: 'must be integer' })) })
})

t.test('sets nothing global: TypeBox keeps its own cap for everyone else', async (t) => {
  const body = Object.fromEntries(range(30).map((i) => [`f${i}`, 'x']))
  compileDecoder(Wide)(body)
  t.equal(Settings.Get().maxErrors, 8)
  t.equal(Errors(Wide, body).length, 8, 'TypeBox’s own Errors still stops at 8')
})

t.test('decodes a valid value to its type', async (t) => {
  t.strictSame(compileDecoder(Type.Object({ id: Type.Integer(), on: Type.Boolean() }))({ id: '7', on: 'Y' }), { ok: true, value: { id: 7, on: true } })
})
