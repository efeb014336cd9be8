import { Compile } from 'typebox/compile'
import type { Static, TSchema } from 'typebox'
import type { ValidationIssue } from '../errors.ts'
import { allErrors } from './all-errors.ts'
import { compileCoercer } from './compile-coercer.ts'
import { validationIssues } from './validation-issues.ts'

export type Decoded<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] }

/** Coerces then validates a decoded wire value against one schema. */
export type Decoder<T> = (value: unknown, path?: string) => Decoded<T>

/**
 * Compiles the coercer and the TypeBox validator of a schema, once: the returned function
 * turns a form-decoded or JSON value into the schema's static type, or lists every path that
 * is wrong (not only TypeBox's first 8).
 * @throws {Error} when the schema uses a kind the coercer does not support (see compileCoercer).
 */
export function compileDecoder<S extends TSchema>(schema: S): Decoder<Static<S>> {
  const coerce = compileCoercer(schema)
  const validator = Compile(schema)
  return (value, path = '') => {
    const coerced = coerce(value)
    if (validator.Check(coerced)) return { ok: true, value: coerced as Static<S> }
    return { ok: false, issues: validationIssues(allErrors(schema, coerced), schema, path) }
  }
}
