import t from 'tap'
import fc from 'fast-check'
import Type from 'typebox'
import { FreeForm, Nullable, OrFalse, YesNo } from '../../schemas/primitives.ts'
import { compileCoercer } from '../../src/wire/compile-coercer.ts'
import { compileDecoder } from '../../src/wire/compile-decoder.ts'
import { parseForm } from '../../src/wire/parse-form.ts'
import { asJson } from '../helpers.ts'

const Sample = Type.Object({
  id: Type.Integer(),
  flag: Type.Boolean(),
  text: Type.String(),
  date: Nullable(Type.String()),
  folder: Nullable(Type.Integer()),
  since: OrFalse(Type.String()),
  phones: OrFalse(FreeForm()),
  ids: Type.Array(Type.Integer()),
  params: FreeForm(),
  yn: YesNo(),
  action: Type.Union([Type.Literal('add'), Type.Literal('delete')]),
  forward: Nullable(Type.Object({ id: Type.Integer() })),
  optional: Type.Optional(Type.Integer()),
  optionalNull: Type.Optional(Nullable(Type.Integer())),
  anything: Type.Optional(Type.Unknown()),
  loose: Type.Optional(Type.Object({ a: Type.Optional(Type.Integer()) })),
})
const coerce = compileCoercer(Sample)
const decode = compileDecoder(Sample)
const base = { id: '1', flag: '1', text: 't', since: 'x', action: 'add', yn: 'Y' }
const fromForm = (body: string) => asJson(coerce(parseForm(body)))

t.test('converts strings to integers and booleans as the schema says', async (t) => {
  t.match(coerce({ ...base, id: '00123', flag: 'Y' }), { id: 123, flag: true })
  for (const [wire, value] of [['1', true], ['Y', true], ['true', true], ['0', false], ['N', false], ['false', false]] as const) {
    t.equal((coerce({ flag: wire }) as { flag: boolean }).flag, value, wire)
  }
  t.match(coerce({ id: 7, flag: false }), { id: 7, flag: false }, 'JSON values pass as they are')
  t.match(coerce({ flag: 1 }), { flag: true })
})

t.test('keeps text that looks like a number or boolean a string where the schema says string', async (t) => {
  for (const text of ['0', '1', 'true', '00123', 'Y', '']) t.equal((coerce({ text }) as { text: string }).text, text)
  t.equal((coerce({ text: 12 }) as { text: string }).text, '12', 'a JSON number reads as the wire would show it')
  t.equal((coerce({ text: true }) as { text: string }).text, '1')
})

t.test('reports a value that cannot be coerced with its path, never a silent 0 or NaN', async (t) => {
  for (const id of ['abc', '', '1.5', '1e3', ' 1', '9007199254740993', '99999999999999999', 'NaN']) {
    const result = decode({ ...base, id })
    t.same(result, { ok: false, issues: [{ path: '/id', message: 'must be integer' }] }, JSON.stringify(id))
  }
  t.same(decode({ ...base, flag: 'yes' }), { ok: false, issues: [{ path: '/flag', message: 'must be boolean' }] })
  t.same(decode({ ...base, ids: { 0: '1', 1: 'x' } }), { ok: false, issues: [{ path: '/ids/1', message: 'must be integer' }] })
  t.same(decode({ ...base, ids: { a: '1' } }), { ok: false, issues: [{ path: '/ids', message: 'must be array' }] })
  t.same(decode({ ...base, ids: '7' }), { ok: false, issues: [{ path: '/ids', message: 'must be array' }] })
  t.same(decode({ ...base, yn: 'maybe' }), { ok: false, issues: [{ path: '/yn', message: 'must be "Y" or "N"' }] })
  t.same(decode({ ...base, since: { a: '1' } }), { ok: false, issues: [{ path: '/since', message: 'must be string or false' }] })
  t.same(decode({ ...base, forward: { id: 'x' } }), { ok: false, issues: [{ path: '/forward/id', message: 'must be integer' }] })
  t.same(decode({ ...base, forward: 'x' }), { ok: false, issues: [{ path: '/forward', message: 'must be object or null' }] })
  t.same(decode({ ...base, params: 'x' }), { ok: false, issues: [{ path: '/params', message: 'must be object' }] })
  t.same(decode({ flag: '1' }, '/data'), {
    ok: false,
    issues: ['id', 'text', 'yn', 'action'].map((key) => ({ path: `/data/${key}`, message: 'is required' })),
  })
})

t.test('restores required fields PHP dropped and leaves optional ones absent', async (t) => {
  t.same(asJson(coerce(base)), {
    id: 1, flag: true, text: 't', since: 'x', action: 'add', yn: 'Y',
    date: null, folder: null, phones: {}, ids: [], params: {}, forward: null,
  })
  t.same(asJson(coerce({ ...base, since: undefined, forward: null })), asJson({ ...coerce(base) as object, since: false }), 'a JSON null is a dropped field')
  const decoded = decode(base)
  t.ok(decoded.ok)
})

t.test('reads the string|false, object|false and nullable unions', async (t) => {
  t.match(fromForm('since=0&phones=0'), { since: false, phones: false })
  t.match(fromForm('since=2025-01-15T10%3A00%3A00%2B02%3A00&phones[work]=%2B49'), { since: '2025-01-15T10:00:00+02:00', phones: { work: '+49' } })
  t.match(coerce({ since: false, phones: { 0: 'a' } }), { since: false, phones: { 0: 'a' } }, 'an object field stays an object')
  t.match(fromForm('date=&folder=&forward='), { date: '', folder: null, forward: null }, 'an empty string is null where no string is expected')
  t.match(fromForm('folder=42&optionalNull='), { folder: 42, optionalNull: null })
  t.match(fromForm('forward[id]=7'), { forward: { id: 7 } })
})

t.test('turns 1/0 into Y/N', async (t) => {
  for (const [wire, value] of [['1', 'Y'], ['0', 'N'], ['Y', 'Y'], ['N', 'N']] as const) t.equal((coerce({ yn: wire }) as { yn: string }).yn, value)
  t.equal((coerce({ yn: true }) as { yn: string }).yn, 'Y')
})

t.test('knows YesNo by its annotation, not by its values: an enum of Y and N stays an enum', async (t) => {
  const Enum = Type.Object({ e: Type.Union([Type.Literal('Y'), Type.Literal('N')]) })
  t.strictSame(compileCoercer(Enum)({ e: '1' }), { e: '1' })
  t.strictSame(compileDecoder(Enum)({ e: '1' }), { ok: false, issues: [{ path: '/e', message: 'must be "Y" or "N"' }] })
  t.strictSame(compileCoercer(Type.Object({ e: YesNo() }))({ e: '1' }), { e: 'Y' })
})

t.test('refuses at compile time a kind or union the contract does not use, naming its schema path', async (t) => {
  const refused: Array<[object, RegExp]> = [
    [Type.Object({ a: Type.Object({ b: Type.Union([Type.String(), Type.Integer()]) }) }), /#\/properties\/a\/properties\/b is a union the wire contract does not use/],
    [Type.Object({ n: Nullable(Type.Union([Type.String(), Type.Integer()])) }), /#\/properties\/n\/anyOf\/0 is a union/],
    [Type.Object({ x: Type.Union([Type.String(), Type.Null(), Type.Literal(false)]) }), /#\/properties\/x is a union/],
    [Type.Object({ x: Type.Union([Type.Literal(1), Type.Literal(2)]) }), /#\/properties\/x is a union/],
    [Type.Object({ id: Type.Union([Type.Integer(), Type.Literal('')]) }), /#\/properties\/id is a union/],
    [Type.Object({ x: Type.Union([Type.Literal(false), Type.Null()]) }), /#\/properties\/x\/anyOf\/1 is a Null/],
    [Type.Object({ l: Type.Array(Type.Number()) }), /#\/properties\/l\/items is a Number, which the wire contract does not use/],
    [Type.Object({ 'a/b': Type.Null() }), /#\/properties\/a~1b is a Null/],
    [Type.Record(Type.String(), Type.Integer()), /# is a Record of Integer/],
    [Type.Object({ f: Type.Union([Type.Literal('Y'), Type.Literal('M')], { title: 'YesNo' }) }), /#\/properties\/f is titled YesNo but is not the union of "Y" and "N"/],
    [Type.Object({ f: Type.Union([Type.Literal('Y'), Type.Literal('N'), Type.Literal('X')], { title: 'YesNo' }) }), /titled YesNo/],
    [{ type: 'string' }, /# is a schema without a TypeBox kind/],
  ]
  for (const [schema, message] of refused) t.throws(() => compileCoercer(schema), { message }, String(message))
  t.throws(() => compileDecoder(Type.Object({ x: Type.Number() })), /#\/properties\/x is a Number/, 'and so does the decoder')
})

t.test('reads empty maps and lists of JSON as PHP sends them: absent, restored when required', async (t) => {
  t.strictSame(asJson(coerce({ ...base, params: {}, phones: [], ids: [], loose: {}, forward: {}, anything: [] })), asJson(coerce(base)))
  t.strictSame(asJson(coerce({ ...base, loose: { a: null }, params: { x: { y: [] } } })), asJson(coerce(base)), 'or holding only nulls and empties')
  t.strictSame(asJson(coerce({ ...base, loose: { auth: { access_token: 's' } } })), asJson(coerce(base)), 'or only credentials')
  t.strictSame(asJson(compileCoercer(Type.Object({ l: Type.Array(Type.Integer()) }))({ x: null })), { l: [] }, 'an empty root is restored as required')
})

t.test('builds lists from indexed maps, closing PHP null gaps', async (t) => {
  t.match(fromForm('ids[0]=1&ids[2]=3'), { ids: [1, 3] })
  t.match(coerce({ ids: [1, null, '3'] }), { ids: [1, 3] })
  t.match(fromForm('ids='), { ids: [] })
})

t.test('keeps free-form objects with string leaves and lists where PHP has them', async (t) => {
  t.same(fromForm('params[FILE_ID][0]=138&params[FILE_ID][1]=139&params[MAP][0]=a&params[MAP][2]=c&params[X][Y]=0').params, {
    FILE_ID: ['138', '139'],
    MAP: { 0: 'a', 2: 'c' },
    X: { Y: '0' },
  })
  t.same(asJson(coerce({ params: { n: 1, b: false, f: 1.5, e: [], o: {}, z: null, l: [1, null, 3] } })).params, { n: '1', b: '0', f: '1.5', l: { 0: '1', 2: '3' } }, 'polled JSON reads as the webhook would')
  t.same(asJson(coerce({ params: [] })).params, {}, 'an empty PHP array is an empty object')
  t.same(asJson(coerce({ params: '' })).params, {})
  t.same(asJson(coerce({ anything: { a: ['x'] } })).anything, { a: ['x'] })
  t.same(asJson(coerce({ loose: { a: '1', b: '2' } })).loose, { a: 1, b: '2' }, 'an object with no required field')
})

t.test('keeps unknown fields as received, and drops credentials at any depth', async (t) => {
  const coerced = fromForm(
    'id=1&chat_id=19167&hasManageCapability=0&auth[access_token]=s&params[x][refresh_token]=s&params[AUTH][a]=s&params[y][application_token]=s&extra[access_token]=s&params[ok]=1',
  )
  t.match(coerced, { id: 1, chat_id: '19167', hasManageCapability: '0', params: { ok: '1' } })
  t.notOk(JSON.stringify(coerced).includes('"s"'), 'no credential survives')
  t.same(Object.keys(coerced as object).filter((key) => key === 'auth' || key === 'extra'), [])
})

t.test('never pollutes a prototype with what it keeps', async (t) => {
  const coerced = coerce(parseForm('id=1&__proto__[polluted]=1&params[__proto__][polluted]=2&params[constructor][prototype]=3')) as Record<string, unknown>
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.equal(Object.getPrototypeOf(coerced), Object.prototype)
  t.same(Object.keys(coerced).slice(0, 3), ['id', '__proto__', 'params'], 'kept as an own key')
  t.equal(Object.getPrototypeOf(coerced.params), Object.prototype)
})

t.test('coerces any wire integer back to itself and any JSON scalar to its wire string', async () => {
  fc.assert(
    fc.property(fc.maxSafeInteger(), fc.string({ unit: 'binary' }), (id, text) => {
      const coerced = coerce({ id: String(id), text }) as { id: number; text: string }
      if (coerced.id !== id || coerced.text !== text) throw new Error('changed')
    }),
    { numRuns: 2000, seed: 20261124 },
  )
})
