// The tests' TypeScript loader on Node 20, given to every test process by tap (`node-arg`).
// Node 22.18 and later strip types themselves (process.features.typescript): nothing to do there.
// On Node 20 the sources are transpiled by swc, and what it made is kept on disk, keyed by
// content: ~120 test processes load most of src/ each, and all but the first read it back.
import { register } from 'node:module'

if (!process.features.typescript) register('./transpile-hooks.mjs', import.meta.url)
