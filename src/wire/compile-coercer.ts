import Type, { type TObject, type TSchema, type TUnion } from 'typebox'
import { freeFormObject, freeForm } from './free-form.ts'
import { isSecretKey } from './is-secret-key.ts'
import { phpScalar } from './php-scalar.ts'
import { pointerEscape } from './pointer-escape.ts'
import { setKey } from './set-key.ts'

/** Turns a wire value into the schema's type where it can; `undefined` means "absent". */
export type Coerce = (value: unknown) => unknown

interface Node {
  coerce: Coerce
  /** What a required field becomes when the wire dropped it (PHP drops `null`, `[]`, `{}`, and `false` is "none"). */
  restore?: () => unknown
  /** String-typed nodes keep `""`; others read `""` as the `null` the docs say it stands for. */
  keepsEmpty?: boolean
}

/** The `title` that schemas/primitives.ts `YesNo()` gives its union: the flag is named, not guessed from its values. */
const YES_NO_TITLE = 'YesNo'

const SUPPORTED_UNIONS = 'Nullable(X), OrFalse(X), YesNo() or a union of string literals'

const INTEGER = /^-?[0-9]{1,16}$/
const TRUE = new Set<unknown>([true, 1, '1', 'Y', 'true'])
const FALSE = new Set<unknown>([false, 0, '0', 'N', 'false'])

const isContainer = (value: unknown): value is object => typeof value === 'object' && value !== null

/**
 * Compiles a TypeBox schema into a function that coerces a decoded wire value (form strings, or
 * JSON) into that schema's types, once, ahead of traffic. It converts what the schema says and
 * the wire allows, restores required lists, objects and nullables that PHP dropped, keeps unknown
 * fields as {@link freeForm} values and drops credentials. What cannot be converted is left as it
 * was, for the validator to report with its path: never a silent 0 or NaN.
 * @throws {Error} naming the schema path of a kind or union the wire contract does not use
 * (a number, a union other than {@link SUPPORTED_UNIONS}, …): better at start than a guess later.
 */
export function compileCoercer(schema: object): Coerce {
  const root = compile(schema, '#')
  return (value) => {
    const coerced = root.coerce(value)
    return coerced === undefined && root.restore ? root.restore() : coerced
  }
}

function compile(schema: unknown, path: string): Node {
  if (Type.IsUnion(schema)) return union(schema, path)
  if (Type.IsInteger(schema)) return { coerce: integer }
  if (Type.IsBoolean(schema)) return { coerce: boolean }
  if (Type.IsString(schema) || isStringLiteral(schema)) return { coerce: string, keepsEmpty: true }
  if (Type.IsArray(schema)) return list(compile(schema.items, `${path}/items`))
  if (Type.IsObject(schema)) return object(schema, path)
  if (Type.IsRecord(schema)) {
    if (Type.IsUnknown(Type.RecordValue(schema))) return freeObject
    throw new Error(`compileCoercer: ${path} is a Record of ${kindOf(Type.RecordValue(schema))}; a free-form object is a Record of Unknown (FreeForm())`)
  }
  if (Type.IsUnknown(schema)) return { coerce: (value) => freeForm(value) }
  throw new Error(`compileCoercer: ${path} is a ${kindOf(schema)}, which the wire contract does not use`)
}

const isStringLiteral = (schema: unknown) => Type.IsLiteral(schema) && typeof schema.const === 'string'
const kindOf = (schema: unknown) => (schema as { '~kind'?: string } | undefined)?.['~kind'] ?? 'schema without a TypeBox kind'

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

// An empty map is one PHP would have dropped (and `""` the null the docs say it sends): absent,
// whichever door, so that an optional field stays out and a required one is restored to `{}`.
const freeObject: Node = {
  coerce: (value) => {
    if (value === '') return undefined
    if (!isContainer(value)) return value
    const object = freeFormObject(value)
    return Object.keys(object).length === 0 ? undefined : object
  },
  restore: () => ({}),
}

function union(schema: TUnion, path: string): Node {
  const members = schema.anyOf
  if ((schema as { title?: unknown }).title === YES_NO_TITLE) {
    if (members.length !== 2 || !members.some((member) => isLiteralOf(member, 'Y')) || !members.some((member) => isLiteralOf(member, 'N'))) {
      throw new Error(`compileCoercer: ${path} is titled ${YES_NO_TITLE} but is not the union of "Y" and "N"`)
    }
    return { coerce: yesNo }
  }
  if (members.every(isStringLiteral)) return { coerce: string }
  const at = members.findIndex((member) => Type.IsNull(member) || isLiteralOf(member, false))
  if (members.length !== 2 || at === -1) throw new Error(`compileCoercer: ${path} is a union the wire contract does not use; supported: ${SUPPORTED_UNIONS}`)
  const sentinel = members[at]
  const inner = compile(members[1 - at], `${path}/anyOf/${1 - at}`)
  return Type.IsNull(sentinel) ? nullable(inner) : orFalse(inner)
}

const isLiteralOf = (schema: unknown, value: unknown) => Type.IsLiteral(schema) && schema.const === value

function nullable(inner: Node): Node {
  return {
    coerce: (value) => (value === '' && !inner.keepsEmpty ? null : inner.coerce(value)),
    restore: () => null,
    keepsEmpty: inner.keepsEmpty,
  }
}

// `string|false`, `object|false`: PHP writes `false` as `0`, which no real date or map is. A
// missing map is `{}` as for any free-form object; a missing date is `false`, "none" (the docs'
// own examples leave out `mobileLastDate` and the like).
function orFalse(inner: Node): Node {
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
    if (value === '') return undefined
    if (!isContainer(value)) return value
    const result: unknown[] = []
    // Integer keys enumerate in ascending order: a sparse PHP list (a null gap) closes up.
    for (const key of Object.keys(value)) {
      if (!Array.isArray(value) && !INTEGER.test(key)) return value
      const item = (value as Record<string, unknown>)[key]
      if (item !== null && item !== undefined) result.push(items.coerce(item))
    }
    return result.length === 0 ? undefined : result
  }
  return { coerce, restore: () => [] }
}

function object(schema: TObject, path: string): Node {
  const fields = new Map<string, Node>()
  for (const [key, child] of Object.entries(schema.properties)) fields.set(key, compile(child, `${path}/properties/${pointerEscape(key)}`))
  const required = (schema.required ?? []).flatMap((key) => {
    const restore = (fields.get(key) as Node).restore
    return restore ? [[key, restore] as const] : []
  })
  const restoreInto = (result: Record<string, unknown>) => {
    for (const [key, restore] of required) if (!Object.hasOwn(result, key)) result[key] = restore()
    return result
  }
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
    // Nothing left is what PHP sends for an object of nulls and empties: nothing (see freeObject).
    return Object.keys(result).length === 0 ? undefined : restoreInto(result)
  }
  return { coerce, restore: () => restoreInto({}) }
}
