#!/usr/bin/env node
/* c8 ignore start: the launcher only loads the TypeScript CLI; test/bin.test.ts runs it end to end. */
import { register } from 'tsx/esm/api'

register()
const { runCli } = await import('../src/cli.ts')
process.exitCode = await runCli(process.argv.slice(2), process)
/* c8 ignore stop */
