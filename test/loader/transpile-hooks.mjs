// Module hooks (see register.mjs): a `.ts` file loads as the ES module swc makes of it, with an
// inline source map, so that stack traces and tap's coverage point into the TypeScript.
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const cacheDir = fileURLToPath(new URL('../../node_modules/.cache/b24-receiver-tests/', import.meta.url))
let swc // loaded at the first file not in the cache: most processes never need it

// Types erased, nothing else lowered (tsconfig.json's verbatimModuleSyntax: an `import type`
// goes, every other import stays).
const options = {
  isModule: true,
  sourceMaps: 'inline',
  inlineSourcesContent: true,
  module: { type: 'es6' },
  jsc: { parser: { syntax: 'typescript' }, target: 'es2022', keepClassNames: true, transform: { verbatimModuleSyntax: true } },
}
// A new swc or new options make new entries, never a stale hit.
const version = createHash('sha256')
  .update(JSON.stringify([require('@swc/core/package.json').version, options, readFileSync(fileURLToPath(import.meta.url))]))
  .digest('hex')

export async function load(url, context, nextLoad) {
  const path = url.startsWith('file:') ? fileURLToPath(url.replace(/[?#].*$/, '')) : ''
  if (!path.endsWith('.ts')) return nextLoad(url, context)
  const typescript = readFileSync(path, 'utf8')
  const key = createHash('sha256').update(version).update(path).update('\0').update(typescript).digest('hex')
  const cached = join(cacheDir, `${key}.js`)
  let source
  try {
    source = readFileSync(cached, 'utf8')
  } catch {
    swc ??= require('@swc/core')
    source = swc.transformSync(typescript, { ...options, filename: path }).code
    mkdirSync(cacheDir, { recursive: true })
    // Written whole under another name first: two test processes may make the same entry at once.
    const partial = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`
    writeFileSync(partial, source)
    renameSync(partial, cached)
  }
  return { format: 'module', source, shortCircuit: true }
}
