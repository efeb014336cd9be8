import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { builtOnce } from './install/built-once.ts'
import { exec, succeeded, type Ran } from './install/exec.ts'
import { installWithoutCompiling } from './install/install-without-compiling.ts'
import { packedLibrary } from './install/packed-library.ts'
import { userEnv, watchChild } from './serve-child.ts'

// examples/ is documentation that runs: each example is installed from the packed library as a
// user installs it, built with its own tsc (once per CI run), and run against a real Bitrix24 body
// and a `b24-receiver simulate`; what its echo handler sends back to Bitrix24 is checked.
t.setTimeout(600_000)

const root = fileURLToPath(new URL('..', import.meta.url))
// The fixture's own token: the examples read theirs from B24_APP_TOKENS.
const TOKEN = '831c76b092f9f135d9b6b36c3a720757'
const fixture = readFileSync(new URL('fixtures/bitrix/imbot_v2_message_add_webhook.body.txt', import.meta.url), 'utf8')
const botAccessToken = new URLSearchParams(fixture).get('data[bot][auth][access_token]')

const ok = async (what: string, ran: Promise<Ran>) => {
  const started = Date.now()
  const result = succeeded(await ran, what)
  t.comment(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  return result
}

const work = mkdtempSync(join(tmpdir(), 'b24-receiver-examples-'))
const example = join(work, 'echo-bot')
t.teardown(() => (t.passing() ? rmSync(work, { recursive: true, force: true }) : t.comment(`kept for a look: ${work}`)))

/** A stand-in for the portal's REST API: what the bot calls, in order. TLS, because simulated events name `https://PORTAL/rest/`. */
interface RestCall {
  method: string
  params: Record<string, unknown>
}
const calls: RestCall[] = []
const waiting = new Set<() => void>()
let portal = ''
let certificate = ''
const nextCall = (seen: number, timeoutMs = 30_000) =>
  new Promise<RestCall>((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(check)
      reject(new Error(`no REST call #${seen + 1} within ${timeoutMs} ms (calls: ${JSON.stringify(calls)})`))
    }, timeoutMs)
    const check = () => {
      const call = calls[seen]
      if (!call) return
      waiting.delete(check)
      clearTimeout(timer)
      resolve(call)
    }
    waiting.add(check)
    check()
  })

t.before(async () => {
  // `file:../b24-receiver.tgz` in the example's package.json names the packed library.
  await packedLibrary(work)
  cpSync(join(root, 'examples/echo-bot'), example, { recursive: true, filter: (path) => !/[\\/](node_modules|dist|data)$/.test(path) })
  const started = Date.now()
  const skipped = await installWithoutCompiling(example)
  t.same(skipped, ['better-sqlite3'], "npm install: the only install script skipped is better-sqlite3's, which the example's allowScripts permits")
  t.comment(`npm install: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const built = await builtOnce('echo-bot-dist', join(example, 'dist'), async () => void (await ok('npm run build (tsc)', exec('npm', ['run', 'build'], { cwd: example }))))
  if (built === 'reused') t.comment("the example's tsc output, built on the first Node of this CI run, is reused")

  await ok(
    'a certificate for the stand-in portal',
    exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'key.pem', '-out', 'cert.pem'], { cwd: work }),
  )
  certificate = join(work, 'cert.pem')
  const server = createServer({ key: readFileSync(join(work, 'key.pem')), cert: readFileSync(certificate) }, (request, response) => {
    let body = ''
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
    request.on('end', () => {
      calls.push({ method: (request.url ?? '').replace(/^\/rest\//, ''), params: JSON.parse(body) as Record<string, unknown> })
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ result: { id: 1000 + calls.length } }))
      waiting.forEach((check) => check())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => void server.close())
  portal = `127.0.0.1:${(server.address() as AddressInfo).port}`
})

const { scripts } = JSON.parse(readFileSync(join(root, 'examples/echo-bot/package.json'), 'utf8')) as { scripts: Record<string, string> }
const servers = [
  { name: 'the Fastify app (npm start)', script: 'start' },
  { name: 'the plain node:http server (npm run start:node-http)', script: 'start:node-http' },
]
for (const { name, script } of servers) {
  t.test(`${name} echoes a real Bitrix24 body and a simulated event, then stops on SIGTERM`, async (t) => {
    const env = userEnv({ B24_APP_TOKENS: TOKEN, DATA_DIR: mkdtempSync(join(work, 'data-')), PORT: '0', NODE_EXTRA_CA_CERTS: certificate, B24_PORTAL_HOSTS: '127.0.0.1' })
    // The script's own command, run without npm in between: npm does not pass SIGTERM on to it.
    const [, main] = /^node (\S+)$/.exec(scripts[script] ?? '') ?? []
    if (!main) throw new Error(`the example's ${script} script is not \`node FILE\`: ${scripts[script]}`)
    const bot = watchChild(spawn(process.execPath, [main], { cwd: example, env, stdio: ['ignore', 'pipe', 'pipe'] }), name)
    t.teardown(() => void bot.child.kill('SIGKILL'))
    const [, url] = await bot.waitFor(/echo bot listening on (http:\/\/\S+)/, 60_000)
    const seen = calls.length

    // The captured body, with its portal (domain and endpoint) moved to the stand-in: the bot answers as the bot, with the bot's token.
    const body = fixture.replaceAll('some-domain.bitrix24.com', encodeURIComponent(portal))
    const response = await fetch(url as string, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    t.same({ status: response.status, body: await response.json() }, { status: 200, body: { ok: true } }, 'the webhook is stored')
    t.same(
      await nextCall(seen),
      { method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', fields: { message: 'You wrote: Hello bot!', replyId: 789 }, botId: 456, auth: botAccessToken } },
      'and echoed to its chat',
    )

    const simulated = await exec('npx', ['b24-receiver', 'simulate', 'ONIMBOTV2MESSAGEADD', '--text', `hi, ${script}`, '--url', url as string, '--token', TOKEN, '--portal', portal], { cwd: example })
    t.equal(simulated.code, 0, simulated.stderr)
    t.match(simulated.stdout, /^ONIMBOTV2MESSAGEADD -> http:\S+: 200 \{"ok":true\}/)
    t.match(await nextCall(seen + 1), { method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', fields: { message: `You wrote: hi, ${script}` }, botId: 456 } }, 'so is a simulated event')

    bot.child.kill('SIGTERM')
    t.equal(await bot.waitForExit(15_000), 0, 'exits by itself, code 0')
    t.equal(calls.length, seen + 2, 'nothing else was sent')
  })
}
