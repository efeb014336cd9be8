import { isSecretKey } from './is-secret-key.ts'
import { parseForm, type FormMap } from './parse-form.ts'
import { readFormKey, type FormPath } from './read-form-key.ts'

/** What the door reads of a form body before anything else, and the body without its credentials. */
export interface FormScan {
  /** The parts of the form a full parse would give for `event`, `auth` and `data[bot][auth]`, and nothing else. */
  head: FormMap
  /** The body with every credential pair cut out (`auth[…]`, `data[…][auth][…]`, token keys in `data`), as received otherwise. */
  stripped: string
}

const UNBOUNDED = { maxPairs: Infinity, maxDepth: Infinity, maxKeyLength: Infinity }

// The pairs that can change `event`, `auth` or `data.bot.auth` in a full parse: those paths, their
// prefixes (`data=x` or `data[bot]=x` replace what was built below them) and what lies below.
function shapesHead(path: FormPath): boolean {
  const [base, first, second] = path
  if (base === 'event' || base === 'auth') return true
  return base === 'data' && (path.length === 1 || (first === 'bot' && (path.length === 2 || second === 'auth')))
}

const isCredential = (path: FormPath): boolean => path[0] === 'auth' || (path[0] === 'data' && path.some((segment, i) => i > 0 && segment !== null && isSecretKey(segment)))

/**
 * Reads a PHP form body once, in time linear in its size and with no limit on pairs, depth or
 * key length: the few fields that decide whether it is accepted, with exactly the semantics of
 * {@link parseForm} (the same key reading, last one wins, a scalar in the way becomes a map), and
 * the body minus its credentials for keeping it as it came. The full parse, with its limits,
 * comes after.
 */
export function scanForm(body: string): FormScan {
  const head: string[] = []
  const kept: string[] = []
  let start = 0
  while (start <= body.length) {
    let end = body.indexOf('&', start)
    if (end === -1) end = body.length
    if (end > start) {
      const pair = body.slice(start, end)
      const eq = pair.indexOf('=')
      const path = readFormKey(eq === -1 ? pair : pair.slice(0, eq), Infinity, Infinity)
      if (path && shapesHead(path)) head.push(pair)
      if (!path || !isCredential(path)) kept.push(pair)
    }
    start = end + 1
  }
  return { head: parseForm(head.join('&'), UNBOUNDED), stripped: kept.join('&') }
}
