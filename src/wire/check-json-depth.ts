import { MalformedBodyError } from '../errors.ts'

/**
 * The decoding limit on JSON nesting, as `maxDepth` is for a form's keys: the root is level 0, and
 * no object or array may sit deeper than `maxDepth`. Walked with a stack of its own: the body
 * may be nested far past what recursion survives.
 * @throws {MalformedBodyError} past `maxDepth`.
 */
export function checkJsonDepth(root: unknown, maxDepth: number): void {
  const stack: Array<[unknown, number]> = [[root, 0]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number]
    if (typeof value !== 'object' || value === null) continue
    if (depth > maxDepth) throw new MalformedBodyError(`the JSON body nests deeper than ${maxDepth} levels`)
    for (const item of Object.values(value)) stack.push([item, depth + 1])
  }
}
