import { execFile, spawn } from 'node:child_process'
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { userEnv, watchChild } from './serve-child.ts'

// Packing builds the project, installing resolves its dependencies, tsc loads fastify's types:
// 1.5 to 3 minutes measured on a busy 2-CPU machine, most of it tsc; 80 s more if better-sqlite3 compiles.
t.setTimeout(480_000)

const root = fileURLToPath(new URL('..', import.meta.url))
const env = userEnv()
const FIXTURE_TOKEN = '831c76b092f9f135d9b6b36c3a720757'
const TOKEN = 'package-test-token'
const body = readFileSync(new URL('fixtures/bitrix/imbot_v2_message_add_webhook.body.txt', import.meta.url), 'utf8')

interface Ran {
  code: number
  stdout: string
  stderr: string
}
const run = (file: string, args: string[], cwd: string, input = '') =>
  new Promise<Ran>((resolve) => {
    const child = execFile(file, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    )
    child.stdin?.end(input)
  })
const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
  const started = Date.now()
  const result = await step()
  t.comment(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return result
}
const ok = (ran: Ran, what: string) => {
  if (ran.code !== 0) throw new Error(`${what} failed (${ran.code}):\n${ran.stdout}\n${ran.stderr}`)
  return ran
}

// Outside the repository, so that nothing resolves from its node_modules.
const work = mkdtempSync(join(tmpdir(), 'b24-receiver-package-'))
const project = join(work, 'project')
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
  // Packed from a copy of the working tree without dist/ and node_modules/: `npm pack` must build
  // it through `prepare`, and does so away from the dist/ that other tests run at the same time.
  const skipped = new Set(['node_modules', 'dist', '.git', '.tap', 'coverage', 'data', '.env'])
  cpSync(root, project, { recursive: true, filter: (path) => !skipped.has(relative(root, path).split(/[\\/]/)[0] as string) })
  symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'), 'dir')
  const packed = ok(await timed('npm pack (builds through prepare)', () => run('npm', ['pack', '--json', '--pack-destination', work], project)), 'npm pack')
  const [manifest] = JSON.parse(packed.stdout) as [{ filename: string; files: Array<{ path: string }> }]
  const files = manifest.files.map((file) => file.path)
  t.same(
    files.filter((path) => !/^(dist\/(src|routes|schemas)\/.+\.(js|d\.ts)|bin\/b24-receiver\.js|README\.md|LICENSE|\.env\.example|package\.json)$/.test(path)),
    [],
    'the tarball holds only what users need',
  )
  t.ok(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts') && files.includes('dist/src/cli.js'), 'with the library, its types and the CLI')

  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'package-test-app', private: true, type: 'module' }))
  // better-sqlite3 compiles from source on install (~80 s here). Installed with scripts off, it gets
  // the native module this repository's `npm ci` compiled, same version, same Node. Proven: the
  // tarball's files, exports, types and declared dependencies (resolved from the registry, no
  // tsx, nothing from this repository) are enough to compile and run a user's program. Not proven
  // here: that better-sqlite3's own install script compiles (`npm ci` in .ci/run does that).
  ok(
    await timed('npm install (scripts off)', () =>
      run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', join(work, manifest.filename), 'fastify@^5', 'typescript@~5.9', '@types/node@^20'], app),
    ),
    'npm install',
  )
  const withScripts = ok(await run('npm', ['query', ':attr(scripts, [preinstall]), :attr(scripts, [install]), :attr(scripts, [postinstall])'], app), 'npm query')
  t.same([...new Set((JSON.parse(withScripts.stdout) as Array<{ name: string }>).map((node) => node.name))], ['better-sqlite3'], 'the only install script skipped is better-sqlite3\'s')
  const version = (dir: string) => (JSON.parse(readFileSync(join(dir, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version
  const native = 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'
  if (version(app) === version(root) && existsSync(join(root, native))) {
    mkdirSync(join(app, native, '..'), { recursive: true })
    copyFileSync(join(root, native), join(app, native))
  } else {
    ok(await timed('npm rebuild better-sqlite3 (compiles)', () => run('npm', ['rebuild', 'better-sqlite3'], app)), 'npm rebuild better-sqlite3')
  }
  t.notOk(existsSync(join(app, 'node_modules/tsx')), 'tsx is not installed with it')
})

t.test('the installed command runs the built JavaScript', async (t) => {
  const decoded = ok(await run(join(app, 'node_modules/.bin/b24-receiver'), ['decode'], app, body), 'b24-receiver decode')
  t.equal((JSON.parse(decoded.stdout) as { event: { type: string } }).event.type, 'ONIMBOTV2MESSAGEADD')
})

// One tsc run for both programs: it loads fastify's and Node's types once (tens of seconds on a busy machine).
t.test('with tsc --strict, the snippet compiles and a misspelled event type does not', async (t) => {
  writeFileSync(join(app, 'main.ts'), program)
  writeFileSync(join(app, 'misspelled.ts'), misspelled)
  const tsc = join(app, 'node_modules/typescript/bin/tsc')
  const compiled = await timed('tsc', () => run(process.execPath, [tsc, '--strict', '--module', 'nodenext', '--target', 'es2022', '--outDir', 'out', 'main.ts', 'misspelled.ts'], app))
  t.not(compiled.code, 0)
  const errors = compiled.stdout.split('\n').filter((line) => line.includes('error TS'))
  t.match(errors, [/^misspelled\.ts\(4,\d+\): error TS/], `one error, on the misspelled type:\n${compiled.stdout}`)
  t.equal(errors.length, 1)
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
