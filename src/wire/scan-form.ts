import { isSecretKey } from './is-secret-key.ts'
import { newMap, place, type FormMap } from './parse-form.ts'
import { phpUrlDecode } from './php-url-decode.ts'
import { readFormKey, type FormPath } from './read-form-key.ts'

/** What the door reads of a form body before anything else, and the body without its credentials. */
export interface FormScan {
  /**
   * The parts of the form a full parse would give for `event`, `auth`, `data[bot][auth]`,
   * `data[chat][id]` and `data[dialogId]`, and nothing else.
   */
  head: FormMap
  /** The body with every credential pair cut out (`auth[…]`, `data[bot][auth][…]`, any token key at any depth), as received otherwise. */
  stripped: string
}

// The pairs that can change a field of the head in a full parse: those paths, their prefixes
// (`data=x` or `data[bot]=x` replace what was built below them) and what lies below.
function shapesHead(path: FormPath): boolean {
  const [base, first, second] = path
  if (base === 'event' || base === 'auth') return true
  if (base !== 'data') return false
  if (path.length === 1 || first === 'dialogId') return true
  return path.length === 2 ? first === 'bot' || first === 'chat' : (first === 'bot' && second === 'auth') || (first === 'chat' && second === 'id')
}

// A credential wherever it is: `auth[…]`, `data[bot][auth][…]`, any token key at any depth.
function isCredential(path: FormPath): boolean {
  for (const segment of path) if (segment !== null && isSecretKey(segment)) return true
  return false
}

/**
 * Reads a PHP form body once, in time linear in its size and with no limit on pairs, depth or
 * key length: the few fields that decide whether it is accepted, with exactly the semantics of
 * {@link parseForm} (the same key reading, last one wins, a scalar in the way becomes a map), and
 * the body minus its credentials for keeping it as it came. The full parse, with its limits,
 * comes after.
 */
export function scanForm(body: string): FormScan {
  const head = newMap()
  // The body is kept whole but for its credential pairs: cut out as runs, not rebuilt pair by pair.
  let stripped = ''
  let keptFrom = 0
  let start = 0
  while (start <= body.length) {
    let end = body.indexOf('&', start)
    if (end === -1) end = body.length
    if (end > start) {
      let eq = body.indexOf('=', start)
      if (eq === -1 || eq > end) eq = end
      const path = readFormKey(body.slice(start, eq), Infinity, Infinity)
      if (path && shapesHead(path)) place(head, path, eq === end ? '' : phpUrlDecode(body.slice(eq + 1, end)))
      if (path && isCredential(path)) {
        if (start > keptFrom) stripped += (stripped === '' ? '' : '&') + body.slice(keptFrom, start - 1)
        keptFrom = end + 1
      }
    }
    start = end + 1
  }
  if (keptFrom < body.length) stripped += (stripped === '' ? '' : '&') + body.slice(keptFrom)
  return { head, stripped }
}
