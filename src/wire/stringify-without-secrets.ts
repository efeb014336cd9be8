import { isSecretKey } from './is-secret-key.ts'

/**
 * `JSON.stringify` of a parsed JSON value minus every secret key ({@link isSecretKey}) at any
 * depth, the same text the native call with a replacer gives, but walked with a stack of its own:
 * the door runs it on any body before the token check, and a body nested 10 000 deep (within the
 * body limit) overflows the native recursion (a 500 instead of a 401 or a dead letter).
 */
export function stringifyWithoutSecrets(root: unknown): string {
  let out = ''
  // Text to write as is, or a value still to write; popped last in, first out.
  const stack: Array<string | { value: unknown }> = [{ value: root }]
  while (stack.length > 0) {
    const next = stack.pop() as string | { value: unknown }
    if (typeof next === 'string') {
      out += next
      continue
    }
    const { value } = next
    if (typeof value !== 'object' || value === null) {
      out += JSON.stringify(value)
    } else if (Array.isArray(value)) {
      stack.push(']')
      for (let i = value.length - 1; i >= 0; i--) {
        stack.push({ value: value[i] })
        if (i > 0) stack.push(',')
      }
      stack.push('[')
    } else {
      const kept = Object.entries(value).filter(([key]) => !isSecretKey(key))
      stack.push('}')
      for (let i = kept.length - 1; i >= 0; i--) {
        const [key, item] = kept[i] as [string, unknown]
        stack.push({ value: item }, `${JSON.stringify(key)}:`)
        if (i > 0) stack.push(',')
      }
      stack.push('{')
    }
  }
  return out
}
