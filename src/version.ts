import { createRequire } from 'node:module'

// Resolved through the package's own name (its `exports` lists package.json): the same line works
// from src/ under tsx, from dist/src/ after the build, and from an installed copy.
/** This package's version, from package.json. */
export const version: string = (createRequire(import.meta.url)('b24-receiver/package.json') as { version: string }).version
