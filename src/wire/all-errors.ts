import Type, { type TSchema } from 'typebox'
import { Settings } from 'typebox/system'
import { Errors } from 'typebox/value'
import { pointerEscape } from './pointer-escape.ts'
import type { SchemaError } from './validation-issues.ts'

/**
 * Every validation error of a value, in TypeBox's order, without raising TypeBox's global
 * `maxErrors` (8 by default; a body has up to 1000 fields). A call that comes back full may have
 * stopped early: it is asked again field by field of an object and item by item of a list, so
 * only a single union or leaf is ever cut at the cap.
 */
export function allErrors(schema: TSchema, value: unknown): SchemaError[] {
  return collect(schema, value, '#', '')
}

function collect(schema: TSchema, value: unknown, schemaPath: string, instancePath: string): SchemaError[] {
  const errors = Errors(schema, value)
  const placed = (list: SchemaError[]) => list.map((error) => relocate(error, schemaPath, instancePath))
  if (errors.length < Settings.Get().maxErrors) return placed(errors)
  if (Type.IsObject(schema) && isRecord(value)) {
    // The contract's objects carry no object keyword but `required` (no `additionalProperties`, no counts).
    const own = placed(Errors({ type: 'object', required: schema.required ?? [] } as unknown as TSchema, value))
    const fields = Object.entries(schema.properties).flatMap(([key, child]) => {
      if (value[key] === undefined) return []
      const step = pointerEscape(key)
      return collect(child, value[key], `${schemaPath}/properties/${step}`, `${instancePath}/${step}`)
    })
    return [...own, ...fields]
  }
  if (Type.IsArray(schema) && Array.isArray(value)) {
    return value.flatMap((item: unknown, index) => collect(schema.items, item, `${schemaPath}/items`, `${instancePath}/${index}`))
  }
  return placed(errors)
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

// An error of a part, moved to where that part sits in the whole (its paths start with `#` and ``).
const relocate = (error: SchemaError, schemaPath: string, instancePath: string): SchemaError => ({
  ...error,
  schemaPath: schemaPath + error.schemaPath.slice(1),
  instancePath: instancePath + error.instancePath,
})
