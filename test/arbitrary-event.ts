import fc from 'fast-check'
import type { ChatEventType } from '../schemas/event-data.ts'
import { restoredValue, wireContract, type Kind, type Shape } from './fixtures/wire-contract.ts'

// fast-check arbitraries for the `data` of chat events, drawn from the contract table of
// test/fixtures/wire-contract.ts (WIRE.md §4), not from the schemas or the coercer. They produce
// everything a sender may send, not only what survives the wire unchanged: full-unicode text,
// numeric-looking and non-ASCII keys, nulls and empties where PHP drops them, `"0"` where `false`
// is allowed, integers and flags as wire strings, unknown fields and credentials. Compare the
// decoded data with test/fixtures/expected-data.ts, which says what each becomes.

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constantFrom('0', '1', 'true', 'false', 'Y', 'N', '00123', '', ' ', '+', '%', '&=', 'a[b]', '\r\n', '\0', '😀', 'é', 'é', '👨‍👩‍👧'),
)

// A key as PHP reads it inside brackets: no `[`, `]` or NUL, and not one blank (that appends).
const usableKey = (key: string) => key !== '' && !/[[\]\0]/.test(key) && !/^\s$/.test(key) && key !== '__proto__'
const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('0', '1', '2', '10', '-1', '01', '1.5', ' 1') },
  { weight: 1, arbitrary: fc.constantFrom('id', 'ID', 'Имя', 'ключ 2', '😀') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }).filter(usableKey) },
  { weight: 1, arbitrary: fc.constantFrom('auth', 'AUTH', 'access_token', 'refresh_token', 'application_token') },
)

const scalar = fc.oneof(text, fc.maxSafeInteger(), fc.boolean(), fc.constant(null))
const { free, freeMap } = fc.letrec((tie) => ({
  free: fc.oneof({ maxDepth: 3, depthSize: 'small' }, scalar, tie('list'), tie('freeMap')),
  list: fc.array(tie('free'), { maxLength: 3 }),
  freeMap: fc.dictionary(key, tie('free'), { maxKeys: 3 }),
}))

const integer = fc.maxSafeInteger().chain((value) => fc.constantFrom<number | string>(value, String(value)))

function arbitrary(kind: Kind): fc.Arbitrary<unknown> {
  // `{}` is an object PHP does not send at all: a null, as far as the wire can tell.
  if (typeof kind === 'object') return 'nullable' in kind ? fc.oneof(fc.constantFrom(null, {}), record(kind.nullable)) : record(kind)
  switch (kind) {
    case 'int':
      return integer
    case 'bool':
      return fc.constantFrom(true, false, 1, 0, '1', '0', 'Y', 'N', 'true', 'false')
    case 'Y/N':
      return fc.constantFrom('Y', 'N', '1', '0', 1, 0, true, false)
    case 'add/delete':
      return fc.constantFrom('add', 'delete')
    case 'str':
      return text
    case 'str|false':
      return fc.oneof(fc.constant(false), text)
    case 'object|false':
      return fc.oneof(fc.constantFrom(false, 0, '0'), freeMap)
    case 'str|null':
      return fc.option(text, { nil: null })
    case 'int|null':
      return fc.oneof(fc.constantFrom(null, ''), integer)
    case 'int[]':
      return fc.array(integer, { maxLength: 3 })
    case 'object':
      return freeMap
  }
}

// Known fields (an R field that the decoder restores may be left out), then unknown ones.
function record(shape: Shape): fc.Arbitrary<Record<string, unknown>> {
  const kinds = { ...shape.required, ...shape.optional }
  const fields = Object.fromEntries(Object.entries(kinds).map(([name, kind]) => [name, arbitrary(kind)]))
  const requiredKeys = Object.keys(shape.required).filter((name) => restoredValue(shape.required[name] as Kind) === undefined)
  const extras = fc.dictionary(
    key.filter((name) => !Object.hasOwn(kinds, name)),
    free,
    { maxKeys: 2 },
  )
  return fc.tuple(fc.record(fields, { requiredKeys }), extras).map(([known, unknown]) => ({ ...known, ...unknown }))
}

/** Random `data` for a chat event type, as a sender may send it. */
export const arbitraryEventData = (type: ChatEventType): fc.Arbitrary<Record<string, unknown>> => record(wireContract[type] as Shape)
