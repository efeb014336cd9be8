import fc from 'fast-check'
import { EventDataSchemas, type ChatEventType } from '../schemas/event-data.ts'
import type { SchemaShape } from '../src/wire/compile-coercer.ts'

// fast-check arbitraries for typed event data, derived from the schemas themselves, in the
// canonical form the wire can carry back unchanged (../shared/WIRE.md §2 lists what it cannot:
// an optional null or empty object vanishes, a string "0" where false is allowed reads as false,
// a map keyed 0..n-1 reads as a list, credentials are removed).


const tricky = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('0', '1', 'true', 'false', 'Y', 'N', '00123', '', ' ', '+', '%', '&=', 'a[b]', '\r\n', '😀', 'é', 'é'),
)
const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_ .+%&=é-]{0,7}$/).filter((name) => !/^(auth|access_token|refresh_token|application_token)$/i.test(name))

const free: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ maxDepth: 3, depthSize: 'small' }, tricky, tie('list'), tie('map')),
  list: fc.array(tie('value'), { minLength: 1, maxLength: 3 }),
  map: fc.dictionary(key, tie('value'), { minKeys: 1, maxKeys: 3 }),
})).value

const freeObject = (minKeys: number) => fc.dictionary(key, free, { minKeys, maxKeys: 3 })

function arbitrary(schema: SchemaShape, optional = false): fc.Arbitrary<unknown> {
  if (schema.anyOf) {
    const rest = schema.anyOf.filter((member) => member.type !== 'null' && member.const !== false)
    if (rest.every((member) => typeof member.const === 'string')) return fc.constantFrom(...rest.map((member) => member.const))
    const inner = arbitrary(rest[0] as SchemaShape, optional)
    if (schema.anyOf.some((member) => member.type === 'null')) return optional ? inner : fc.option(inner, { nil: null })
    return fc.oneof(fc.constant(false), rest[0]?.type === 'string' ? inner.filter((value) => value !== '0') : inner)
  }
  switch (schema.type) {
    case 'integer':
      return fc.maxSafeInteger()
    case 'boolean':
      return fc.boolean()
    case 'string':
      return tricky
    case 'array':
      return fc.array(arbitrary(schema.items as SchemaShape), { maxLength: 3 })
    case 'object':
      if (!schema.properties) return freeObject(optional ? 1 : 0)
      return object(schema)
    default:
      return free
  }
}

function object(schema: SchemaShape): fc.Arbitrary<unknown> {
  const required = new Set(schema.required ?? [])
  const fields = Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, child]) => [name, arbitrary(child, !required.has(name))]))
  return fc.record(fields, { requiredKeys: [...required] })
}

/** Random typed `data` for a chat event type. */
export const arbitraryEventData = (type: ChatEventType): fc.Arbitrary<Record<string, unknown>> =>
  object(EventDataSchemas[type] as SchemaShape) as fc.Arbitrary<Record<string, unknown>>
