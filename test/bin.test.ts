import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { readFixture } from './helpers.ts'

const bin = fileURLToPath(new URL('../bin/b24-receiver.js', import.meta.url))
// The child runs as a user's would: without tap's loaders, whose coverage of tsx-compiled
// sources would not line up with the in-process tests' own.
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(NODE_OPTIONS|NODE_V8_COVERAGE|_?TAP)/.test(name)))
const spawn = (args: string[], input: string) => spawnSync(process.execPath, [bin, ...args], { input, encoding: 'utf8', env })

t.test('the installed command decodes and encodes as a new user runs it', async (t) => {
  const body = readFixture('bitrix/imbot_v2_message_add_webhook.body.txt')
  const decoded = spawn(['decode'], body)
  t.equal(decoded.status, 0, decoded.stderr)
  t.equal((JSON.parse(decoded.stdout) as { event: { type: string } }).event.type, 'ONIMBOTV2MESSAGEADD')
  const encoded = spawn(['encode'], readFixture('bitrix/imbot_v2_message_add_webhook.payload.json'))
  t.equal(encoded.stdout, body)
  const bad = spawn(['decode'], 'garbage')
  t.equal(bad.status, 1)
  t.equal(bad.stderr.split('\n').length, 2, 'one line')
})
