import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { builtOnce } from './install/built-once.ts'
import { exec, succeeded } from './install/exec.ts'
import { installWithoutCompiling } from './install/install-without-compiling.ts'
import { packedLibrary, tarballFiles } from './install/packed-library.ts'
import { userEnv, watchChild } from './serve-child.ts'

// The tarball is packed once per CI run (or from the fresh build), better-sqlite3 is not compiled
// again and tsc runs on the first Node of a CI run only: about a minute, most of it tsc.
t.setTimeout(480_000)

const env = userEnv()
const FIXTURE_TOKEN = '831c76b092f9f135d9b6b36c3a720757'
const TOKEN = 'package-test-token'
const body = readFileSync(new URL('fixtures/bitrix/imbot_v2_message_add_webhook.body.txt', import.meta.url), 'utf8')

const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
  const started = Date.now()
  const result = await step()
  t.comment(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return result
}

// Outside the repository, so that nothing resolves from its node_modules.
const work = mkdtempSync(join(tmpdir(), 'b24-receiver-package-'))
const app = join(work, 'app')
t.teardown(() => (t.passing() ? rmSync(work, { recursive: true, force: true }) : t.comment(`kept for a look: ${work}`)))

// What the DESIGN.md snippet promises, as a user writes it: handlers typed, the plugin in their app.
const program = `import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import { createReceiver, b24Receiver } from 'b24-receiver'

const receiver = createReceiver({ tokens: ['${TOKEN}', 'bac1cd5c8940947a75e0d71b1a84e999:OTHER_TOKEN'], dataDir: './data' })
receiver.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
  const text: string = event.data.message.text
  const botId: number = event.data.bot.id
  const chatId: number = event.data.chat.id
  // @ts-expect-error the text is a string, not any
  const notANumber: number = event.data.message.text
  console.log(JSON.stringify({ handled: { type: event.type, text, botId, chatId, ctx: typeof ctx } }))
})
const app = Fastify()
await app.register(b24Receiver, { receiver, path: '/webhook' })
await app.listen({ port: 0, host: '127.0.0.1' })
console.log(JSON.stringify({ listening: \`http://127.0.0.1:\${(app.server.address() as AddressInfo).port}\` }))
// The test ends stdin to close the app: the process must then exit by itself.
process.stdin.on('end', () => void app.close()).resume()
`
const misspelled = `import { createReceiver } from 'b24-receiver'

const receiver = createReceiver({ tokens: ['${TOKEN}'] })
receiver.on('ONIMBOTV2MESSAGEADDX', async () => {})
`

t.before(async () => {
  const tarball = await timed('the packed library', () => packedLibrary(work))
  const files = await tarballFiles(tarball)
  t.same(
    files.filter((path) => !/^(dist\/(src|routes|schemas)\/.+\.(js|d\.ts)|bin\/b24-receiver\.js|README\.md|LICENSE|\.env\.example|package\.json)$/.test(path)),
    [],
    'the tarball holds only what users need',
  )
  t.ok(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts') && files.includes('dist/src/cli.js'), 'with the library, its types and the CLI')

  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'package-test-app', private: true, type: 'module' }))
  // Proven: the tarball's files, exports, types and declared dependencies (resolved from the
  // registry, no tsx, nothing from this repository) are enough to compile and run a user's program.
  const skipped = await timed('npm install (scripts off)', () => installWithoutCompiling(app, [tarball, 'fastify@^5', 'typescript@~5.9', '@types/node@^20']))
  t.same(skipped, ['better-sqlite3'], "the only install script skipped is better-sqlite3's")
  t.notOk(existsSync(join(app, 'node_modules/tsx')), 'tsx is not installed with it')
})

t.test('the installed command runs the built JavaScript', async (t) => {
  const decoded = succeeded(await exec(join(app, 'node_modules/.bin/b24-receiver'), ['decode'], { cwd: app, input: body }), 'b24-receiver decode')
  t.equal((JSON.parse(decoded.stdout) as { event: { type: string } }).event.type, 'ONIMBOTV2MESSAGEADD')
})

// One tsc run for both programs: it loads fastify's and Node's types once (tens of seconds on a busy machine).
t.test('with tsc --strict, the snippet compiles and a misspelled event type does not', async (t) => {
  const built = await builtOnce('package-snippet', join(app, 'out'), async () => {
    writeFileSync(join(app, 'main.ts'), program)
    writeFileSync(join(app, 'misspelled.ts'), misspelled)
    const tsc = join(app, 'node_modules/typescript/bin/tsc')
    const compiled = await timed('tsc', () => exec(process.execPath, [tsc, '--strict', '--module', 'nodenext', '--target', 'es2022', '--outDir', 'out', 'main.ts', 'misspelled.ts'], { cwd: app }))
    t.not(compiled.code, 0)
    const errors = compiled.stdout.split('\n').filter((line) => line.includes('error TS'))
    t.match(errors, [/^misspelled\.ts\(4,\d+\): error TS/], `one error, on the misspelled type:\n${compiled.stdout}`)
    t.equal(errors.length, 1)
  })
  if (built === 'reused') t.comment('type-checked on the first Node of this CI run: its output is reused')
  t.ok(existsSync(join(app, 'out/main.js')), 'the snippet is emitted')
})

t.test('the compiled snippet handles a real Bitrix24 body typed, and exits by itself once the app closes', async (t) => {
  const child = watchChild(spawn(process.execPath, ['out/main.js'], { cwd: app, env, stdio: ['pipe', 'pipe', 'pipe'] }), 'the compiled program')
  t.teardown(() => void child.child.kill('SIGKILL'))
  const [, url] = await child.waitFor(/\{"listening":"(http:[^"]+)"\}/)
  const response = await fetch(`${url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.replaceAll(FIXTURE_TOKEN, TOKEN) })
  t.equal(response.status, 200, await response.text())

  const [, handled] = await child.waitFor(/\{"handled":(\{[^\n]*\})\}/)
  t.same(JSON.parse(handled as string), { type: 'ONIMBOTV2MESSAGEADD', text: 'Hello bot!', botId: 456, chatId: 5, ctx: 'object' })
  child.child.stdin?.end()
  t.equal(await child.waitForExit(5000), 0, 'exits by itself, code 0')
})
