import { cpSync, existsSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Fills `outDir` with what `build` makes there (a tsc output), once per CI run: CI names a
 * directory in `B24_TEST_SHARED` for all the Nodes it tests; the first to get here builds and leaves
 * a copy, the others take it. What tsc emits and reports does not depend on the Node that runs it,
 * so a type check repeated on every Node would prove nothing more. Without `B24_TEST_SHARED`, it
 * always builds. Resolves with what it did.
 */
export async function builtOnce(name: string, outDir: string, build: () => Promise<void>): Promise<'built' | 'reused'> {
  const shared = process.env.B24_TEST_SHARED
  const kept = shared && join(shared, name)
  if (kept && existsSync(kept)) {
    cpSync(kept, outDir, { recursive: true })
    return 'reused'
  }
  await build()
  if (kept) cpSync(outDir, kept, { recursive: true })
  return 'built'
}
