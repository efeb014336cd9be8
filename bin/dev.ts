// The CLI from the TypeScript sources, for `npm run dev` (through tsx) and the tests' child
// processes (through test/loader/); not published: the installed command is
// bin/b24-receiver.js, which runs the build.
import { runCli } from '../src/cli.ts'

process.exitCode = await runCli(process.argv.slice(2), process)
