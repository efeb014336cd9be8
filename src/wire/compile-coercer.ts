import { freeFormObject, freeForm } from './free-form.ts'
import { isSecretKey } from './is-secret-key.ts'
import { phpScalar } from './php-scalar.ts'
import { setKey } from './set-key.ts'

/** The JSON Schema subset the typed contract is written in (see schemas/primitives.ts). */
export interface SchemaShape {
  type?: string
  const?: unknown
  anyOf?: SchemaShape[]
  properties?: Record<string, SchemaShape>
  required?: string[]
  items?: SchemaShape
  patternProperties?: Record<string, SchemaShape>
}

/** Turns a wire value into the schema's type where it can; `undefined` means "absent". */
export type Coerce = (value: unknown) => unknown

interface Node {
  coerce: Coerce
  /** What a required field becomes when the wire dropped it (PHP drops `null`, `[]`, `{}`, and `false` is "none"). */
  restore?: () => unknown
  /** String-typed nodes keep `""`; others read `""` as the `null` the docs say it stands for. */
  keepsEmpty?: boolean
}

const INTEGER = /^-?[0-9]{1,16}$/
const TRUE = new Set<unknown>([true, 1, '1', 'Y', 'true'])
const FALSE = new Set<unknown>([false, 0, '0', 'N', 'false'])

const isContainer = (value: unknown): value is object => typeof value === 'object' && value !== null

/**
 * Compiles a schema into a function that coerces a decoded wire value (form strings, or JSON)
 * into that schema's types, once, ahead of traffic. It converts what the schema says and the
 * wire allows, restores required lists, objects and nullables that PHP dropped, keeps unknown
 * fields as {@link freeForm} values and drops credentials. What cannot be converted is left as
 * it was, for the validator to report with its path: never a silent 0 or NaN.
 */
export function compileCoercer(schema: object): Coerce {
  return compile(schema as SchemaShape).coerce
}

function compile(schema: SchemaShape): Node {
  if (schema.anyOf) return union(schema.anyOf)
  switch (schema.type) {
    case 'integer':
      return { coerce: integer }
    case 'boolean':
      return { coerce: boolean }
    case 'string':
      return { coerce: string, keepsEmpty: true }
    case 'array':
      return list(compile(schema.items as SchemaShape))
    case 'object':
      return schema.properties ? object(schema) : freeObject
    default:
      return { coerce: (value) => freeForm(value) }
  }
}

function integer(value: unknown): unknown {
  if (typeof value !== 'string' || !INTEGER.test(value)) return value
  const number = Number(value)
  return Number.isSafeInteger(number) ? number : value
}

function boolean(value: unknown): unknown {
  if (TRUE.has(value)) return true
  if (FALSE.has(value)) return false
  return value
}

// A JSON number or boolean where the contract says string reads as the wire would show it.
const string = (value: unknown): unknown => phpScalar(value) ?? value

const freeObject: Node = {
  coerce: (value) => (isContainer(value) ? freeFormObject(value) : value === '' ? {} : value),
  restore: () => ({}),
}

function union(members: SchemaShape[]): Node {
  const rest = members.filter((member) => member.type !== 'null' && member.const !== false)
  if (rest.every((member) => typeof member.const === 'string')) {
    const values = rest.map((member) => member.const)
    return values.length === 2 && values.includes('Y') && values.includes('N') ? { coerce: yesNo } : { coerce: string }
  }
  const inner = compile(rest[0] as SchemaShape)
  if (rest.length < members.length && members.some((member) => member.type === 'null')) {
    return {
      coerce: (value) => (value === '' && !inner.keepsEmpty ? null : inner.coerce(value)),
      restore: () => null,
      keepsEmpty: inner.keepsEmpty,
    }
  }
  // `string|false`, `object|false`: PHP writes `false` as `0`, which no real date or map is. A
  // missing map is `{}` as for any free-form object; a missing date is `false`, "none" (the docs'
  // own examples leave out `mobileLastDate` and the like).
  const restore = inner.restore ?? (() => false)
  return { coerce: (value) => (value === '0' || value === 0 || value === false ? false : inner.coerce(value)), restore }
}

function yesNo(value: unknown): unknown {
  if (TRUE.has(value)) return 'Y'
  if (FALSE.has(value)) return 'N'
  return value
}

function list(items: Node): Node {
  const coerce = (value: unknown): unknown => {
    if (value === '') return []
    if (!isContainer(value)) return value
    const result: unknown[] = []
    // Integer keys enumerate in ascending order: a sparse PHP list (a null gap) closes up.
    for (const key of Object.keys(value)) {
      if (!Array.isArray(value) && !INTEGER.test(key)) return value
      const item = (value as Record<string, unknown>)[key]
      if (item !== null && item !== undefined) result.push(items.coerce(item))
    }
    return result
  }
  return { coerce, restore: () => [] }
}

function object(schema: SchemaShape): Node {
  const fields = new Map<string, Node>()
  for (const [key, child] of Object.entries(schema.properties as Record<string, SchemaShape>)) fields.set(key, compile(child))
  const required = (schema.required ?? []).flatMap((key) => {
    const restore = (fields.get(key) as Node).restore
    return restore ? [[key, restore] as const] : []
  })
  const coerce = (value: unknown): unknown => {
    if (!isContainer(value)) return value
    const result: Record<string, unknown> = {}
    for (const key of Object.keys(value)) {
      if (isSecretKey(key)) continue
      const raw = (value as Record<string, unknown>)[key]
      if (raw === null || raw === undefined) continue
      const field = fields.get(key)
      const coerced = field ? field.coerce(raw) : freeForm(raw)
      if (coerced !== undefined) setKey(result, key, coerced)
    }
    for (const [key, restore] of required) if (!Object.hasOwn(result, key)) result[key] = restore()
    return result
  }
  return { coerce, restore: () => coerce({}) }
}
