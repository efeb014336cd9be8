import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { readFixture } from './helpers.ts'
import { serveChild, userEnv } from './serve-child.ts'

// The built command, as `npx b24-receiver` runs it after `npm ci` (whose `prepare` builds, as
// `npm test` does before tap): plain node, no tsx, no tap loaders.
const bin = fileURLToPath(new URL('../bin/b24-receiver.js', import.meta.url))
const run = (args: string[], input: string, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', env: userEnv(env), timeout: 20000 })

t.test('the installed command decodes and encodes as a new user runs it', async (t) => {
  const body = readFixture('bitrix/imbot_v2_message_add_webhook.body.txt')
  const decoded = run(['decode'], body)
  t.equal(decoded.status, 0, decoded.stderr)
  t.equal((JSON.parse(decoded.stdout) as { event: { type: string } }).event.type, 'ONIMBOTV2MESSAGEADD')
  const encoded = run(['encode'], readFixture('bitrix/imbot_v2_message_add_webhook.payload.json'))
  t.equal(encoded.stdout, body)
  const bad = run(['decode'], 'garbage')
  t.equal(bad.status, 1)
  t.equal(bad.stderr.split('\n').length, 2, 'one line')
})

t.test('the installed command refuses to serve with a bad variable, naming it', async (t) => {
  const served = run(['serve'], '', { PORT: 'abc', DATA_DIR: t.testdir() })
  t.equal(served.status, 1)
  t.match(served.stderr, /PORT/)
})

t.test("a test's service that cannot start fails at once with its output, not at tap's timeout", async (t) => {
  // A minute to listen, however long a busy machine takes to start the child: it fails on the
  // child's exit, which its error names, not on that wait.
  await t.rejects(
    serveChild({ PORT: 'abc', DATA_DIR: t.testdir() }, 60_000),
    /^b24-receiver serve exited with code 1 before printing[\s\S]*--- stderr ---[\s\S]*PORT/,
    'on its exit, not after waiting to listen',
  )
})
