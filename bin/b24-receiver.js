#!/usr/bin/env node
// Runs the JavaScript that `npm run build` (the `prepare` script) emits; `npm run dev` runs the sources.
import { runCli } from '../dist/src/cli.js'

process.exitCode = await runCli(process.argv.slice(2), process)
