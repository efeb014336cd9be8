import { PassThrough, Readable, Writable } from 'node:stream'
import t from 'tap'
import { runCli } from '../src/cli.ts'
import { expectedEvent } from './fixtures/expected-event.ts'
import { eventually, readFixture, runCommand } from './helpers.ts'

async function run(argv: string[], input = '', tty = false, env: Record<string, string> = {}) {
  const { code, out, err } = await runCommand(argv, { input, tty, env })
  return { code, stdout: out, stderr: err }
}

const capture = 'capture_imbot_v2_message_add_2026_09_16'
const tokens = ['accesstoken0', 'accesstoken1', 'refreshtoken0', 'refreshtoken1', 'c76f868e0000']

t.test('decode prints the typed event as one JSON object and no token', async (t) => {
  const { code, stdout, stderr } = await run(['decode'], readFixture(`bitrix/${capture}.body.txt`))
  t.equal(code, 0)
  t.equal(stderr, '')
  t.equal(stdout.trim().split('\n').length, 1, 'one line when piped')
  const printed = JSON.parse(stdout) as { event: unknown; delivery: unknown }
  t.strictSame(printed.event, expectedEvent(capture))
  t.strictSame(printed.delivery, { source: 'webhook', portal: { domain: 'teplodar.bitrix24.ru', memberId: '61fe44d3770c22e3fab7bff06b17e7e3', clientEndpoint: 'https://teplodar.bitrix24.ru/rest/' }, handlerId: 111 }, 'how it came, credentials left out')
  for (const token of tokens) t.notOk(stdout.includes(token), token)
  const pretty = await run(['decode'], readFixture(`bitrix/${capture}.body.txt`), true)
  t.ok(pretty.stdout.split('\n').length > 50, 'indented on a terminal')
})

t.test('decode exits non-zero with a one-line reason for bad input, printing no token', async (t) => {
  const body = readFixture(`bitrix/${capture}.body.txt`)
  for (const input of [body.slice(0, 1500), body.slice(0, 4000).replace('message%5D%5Bid%5D=1093189', 'message%5D%5Bid%5D=abc'), '\u0000\u00ff garbage %%% [[[', '', '{"event": ', '{"event": "ONIMBOTV2MESSAGEADD", "ts": 1, "data": {"bot": {"auth": {"access_token": "accesstoken0"}}}}']) {
    const { code, stdout, stderr } = await run(['decode'], input)
    t.equal(code, 1, JSON.stringify(input.slice(0, 40)))
    t.equal(stdout, '')
    t.match(stderr, /^b24-receiver decode: [^\n]+\n$/)
    for (const token of tokens) t.notOk(stderr.includes(token), token)
  }
})

t.test('encode writes the exact PHP body with no trailing newline', async (t) => {
  const { code, stdout } = await run(['encode'], readFixture(`bitrix/${capture}.payload.json`))
  t.equal(code, 0)
  t.equal(stdout, readFixture(`bitrix/${capture}.body.txt`))
  const bad = await run(['encode'], '{"event": }')
  t.equal(bad.code, 1)
  t.match(bad.stderr, /^b24-receiver encode: invalid JSON at character \d+\n$/)
})

t.test('an unknown or missing command prints usage and exits 2', async (t) => {
  for (const argv of [[], ['nope'], ['toString'], ['__proto__']]) {
    const { code, stderr } = await run(argv)
    t.equal(code, 2)
    t.match(stderr, /usage: b24-receiver <command>/)
    for (const command of ['serve', 'simulate', 'decode', 'encode', 'dlq', 'portals', 'fake-portal']) t.match(stderr, new RegExp(`\\n  ${command} `), `lists ${command}`)
  }
})

t.test('a bug is not disguised as bad input', async (t) => {
  const stdin = new Readable({ read() { this.destroy(new Error('disk on fire')) } })
  await t.rejects(runCli(['decode'], { stdin, stdout: new PassThrough(), stderr: new PassThrough(), env: {} }), /disk on fire/)
})

t.test('serve runs until SIGTERM, then closes and exits 0', async (t) => {
  const stdout = new PassThrough()
  // The signal is sent once serve listens for it: before, it would be lost (or end the test runner).
  const listening = (signal: NodeJS.Signals, before: number) => eventually(() => process.listenerCount(signal) > before, 10000)
  const before = { SIGTERM: process.listenerCount('SIGTERM'), SIGINT: process.listenerCount('SIGINT') }
  const running = runCli(['serve'], { stdin: Readable.from([]), stdout, stderr: new PassThrough(), env: { PORT: '0', DATA_DIR: t.testdir(), B24_APP_TOKENS: 'x', LOG_LEVEL: 'silent' } })
  await listening('SIGTERM', before.SIGTERM)
  process.emit('SIGTERM')
  t.equal(await running, 0)
  t.equal(process.listenerCount('SIGTERM'), before.SIGTERM, 'its listeners go with it')
  const again = runCli(['serve'], { stdin: Readable.from([]), stdout, stderr: new PassThrough(), env: { PORT: '0', DATA_DIR: t.testdir(), B24_APP_TOKENS: 'x', LOG_LEVEL: 'silent' } })
  await listening('SIGINT', before.SIGINT)
  process.emit('SIGINT')
  t.equal(await again, 0)
})

t.test('a bad environment stops serve with one line naming the variable', async (t) => {
  const { code, stderr } = await run(['serve'], '', false, { PORT: 'abc' })
  t.equal(code, 1)
  t.equal(stderr, 'b24-receiver serve: invalid environment: PORT must be integer\n')
})

t.test('a reader that went away (… | head -1) ends the output quietly; another write failure is one line', async (t) => {
  const failing = (code: string) =>
    new Writable({
      write(_chunk, _encoding, done) {
        done(Object.assign(new Error(`write ${code}`), { code }))
      },
    })
  const stderr = new PassThrough()
  let err = ''
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
  const input = () => Readable.from([Buffer.from(readFixture(`bitrix/${capture}.body.txt`))])
  t.equal(await runCli(['decode'], { stdin: input(), stdout: failing('EPIPE'), stderr, env: {} }), 0)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(err, '', 'nothing said of a closed pipe')
  await runCli(['decode'], { stdin: input(), stdout: failing('EIO'), stderr, env: {} })
  await eventually(() => err !== '')
  t.equal(err, 'b24-receiver decode: cannot write the output: write EIO\n')
})
