import { timingSafeEqual } from 'node:crypto'

/** Whether a stored keyed hash (hex) is `digest`, in constant time; `null` (a portal that keeps no token) is nothing's. */
export function sameHash(stored: string | null, digest: string): boolean {
  if (stored === null) return false
  const a = Buffer.from(stored, 'hex')
  const b = Buffer.from(digest, 'hex')
  return a.length === b.length && timingSafeEqual(a, b)
}
