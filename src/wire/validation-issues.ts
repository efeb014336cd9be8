import type { ValidationIssue } from '../errors.ts'

/** The fields of a TypeBox validation error this module reads. */
export interface SchemaError {
  keyword: string
  schemaPath: string
  instancePath: string
  params: object
  message: string
}

interface Described {
  type?: string
  const?: unknown
  anyOf?: Described[]
}

/**
 * Turns TypeBox errors into one issue per failing path, saying what was expected and never
 * what was received (it may be a secret). A failed union whose member failed deeper reports
 * the deeper error; otherwise it lists its alternatives.
 */
export function validationIssues(errors: Iterable<SchemaError>, schema: object, prefix = ''): ValidationIssue[] {
  const list = [...errors]
  const unions = list.filter((error) => error.keyword === 'anyOf')
  const deeper = (path: string) => list.some((error) => error.instancePath !== path && within(error.instancePath, path))
  const issues = new Map<string, string>()
  for (const error of list) {
    if (error.keyword === 'required') {
      for (const key of (error.params as { requiredProperties: string[] }).requiredProperties) issues.set(`${prefix}${error.instancePath}/${key}`, 'is required')
      continue
    }
    const union = unions.find((candidate) => within(error.schemaPath, candidate.schemaPath))
    if (union && deeper(union.instancePath)) {
      if (error.instancePath === union.instancePath) continue
    } else if (union) {
      issues.set(prefix + union.instancePath, `must be ${describe(resolve(schema, union.schemaPath))}`)
      continue
    }
    issues.set(prefix + error.instancePath, error.message)
  }
  return [...issues].map(([path, message]) => ({ path, message }))
}

// Whether a JSON pointer is `parent` or below it (`/a/b` is within `/a`, `/ab` is not).
const within = (pointer: string, parent: string) => pointer === parent || pointer.startsWith(parent + '/')

function resolve(schema: object, pointer: string): Described {
  let node: unknown = schema
  for (const step of pointer.split('/').slice(1)) node = (node as Record<string, unknown>)[step]
  return node as Described
}

function describe(schema: Described): string {
  if (schema.anyOf) return schema.anyOf.map(describe).join(' or ')
  if (schema.const !== undefined) return JSON.stringify(schema.const)
  return String(schema.type)
}
