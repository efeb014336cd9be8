import type { AuthBlock } from './credentials.ts'

/** The string fields of an `auth` block, or `undefined` when there is no such block. */
export function readAuthBlock(value: unknown): AuthBlock | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const block: Record<string, string> = {}
  for (const key in value) {
    const field = (value as Record<string, unknown>)[key]
    if (typeof field === 'string' && Object.hasOwn(value, key)) block[key] = field
  }
  return block
}
