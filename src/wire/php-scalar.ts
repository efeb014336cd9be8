import { formatPhpFloat } from './php-float.ts'

/**
 * The string a JSON scalar becomes on the PHP wire (`true` → `1`, `false` → `0`, PHP float
 * format), so that a polled event reads like the same event received by webhook. `undefined`
 * for anything else.
 */
export function phpScalar(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value
    case 'boolean':
      return value ? '1' : '0'
    case 'number':
      return Number.isSafeInteger(value) ? String(value) : formatPhpFloat(value)
    default:
      return undefined
  }
}
