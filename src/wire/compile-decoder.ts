import { Compile } from 'typebox/compile'
import { Settings } from 'typebox/system'
import type { Static, TSchema } from 'typebox'
import type { ValidationIssue } from '../errors.ts'
import { compileCoercer } from './compile-coercer.ts'
import { validationIssues } from './validation-issues.ts'

// TypeBox stops at 8 errors by default: report every failing path of a body (1000 fields at most).
Settings.Set({ maxErrors: 4096 })

export type Decoded<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] }

/** Coerces then validates a decoded wire value against one schema. */
export type Decoder<T> = (value: unknown, path?: string) => Decoded<T>

/**
 * Compiles the coercer and the TypeBox validator of a schema, once: the returned function
 * turns a form-decoded or JSON value into the schema's static type, or lists what is wrong.
 */
export function compileDecoder<S extends TSchema>(schema: S): Decoder<Static<S>> {
  const coerce = compileCoercer(schema)
  const validator = Compile(schema)
  return (value, path = '') => {
    const coerced = coerce(value)
    if (validator.Check(coerced)) return { ok: true, value: coerced as Static<S> }
    const issues = validationIssues(validator.Errors(coerced), schema, path)
    return { ok: false, issues }
  }
}
