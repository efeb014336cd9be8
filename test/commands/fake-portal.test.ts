import { createServer } from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import t from 'tap'
import { FAKE_PORTAL_PORT } from '../../src/commands/fake-portal.ts'
import { runCli } from '../../src/cli.ts'
import { startServer } from '../../src/service/start-server.ts'
import { captureLogs, eventually, runCommand } from '../helpers.ts'

const run = (args: string[]) => runCommand(['fake-portal', ...args])

t.test('fake-portal prints how to try application mode, and the commands it prints do it: install confirmed through it, the bot answering through it, uninstall', async (t) => {
  const stdout = new PassThrough()
  let out = ''
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const before = process.listenerCount('SIGTERM')
  const running = runCli(['fake-portal', '--port', '0'], { stdin: Readable.from([]), stdout, stderr: new PassThrough(), env: {} })
  await eventually(() => out.includes('One line per request below.'))
  const url = /on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out)?.[1] as string
  t.match(out, /^b24-receiver fake-portal: stand-in Bitrix24 portals and their OAuth server on http:\/\/127\.0\.0\.1:\d+\nA development tool for trying application mode on this machine: never point a production service at it\.\n/)

  // The printed serve line, as a shell would run it (on a free port, its data apart).
  const serveLine = /^ {2}(.*) npx b24-receiver serve$/m.exec(out)?.[1] as string
  const env = Object.fromEntries(serveLine.split(' ').map((pair) => pair.split('=') as [string, string]))
  t.same(Object.keys(env), ['B24_CLIENT_ID', 'B24_CLIENT_SECRET', 'B24_OAUTH_URL', 'EXAMPLE_BOT'])
  t.equal(env.B24_OAUTH_URL, url)
  const logs = captureLogs()
  const server = await startServer({ ...env, PORT: '0', DATA_DIR: t.testdir() }, { destination: logs.stream })
  t.teardown(() => server.close())

  const simulations = [...out.matchAll(/^ {2}npx b24-receiver simulate (.*)$/gm)].map((match) => (match[1] as string).split(' '))
  t.same(simulations.map((args) => args[0]), ['ONAPPINSTALL', 'ONIMBOTV2MESSAGEADD', 'ONAPPUNINSTALL'])
  const simulate = async (args: string[]) => (await runCommand(['simulate', ...args], { env: { PORT: new URL(server.url).port } })).code
  t.equal(await simulate(simulations[0] as string[]), 0, 'the install')
  t.equal(await simulate(simulations[1] as string[]), 0, 'a message to the bot')
  // The uninstall revokes the portal's tokens: the bot answers first, as it would on a real portal.
  await eventually(() => out.includes('example.bitrix24.com REST imbot.v2.Chat.Message.send {"botId":456,"dialogId":"chat5","fields":{"message":"You wrote: hi"'))
  t.equal(await simulate(simulations[2] as string[]), 0, 'the uninstall')
  await eventually(() => logs.text().includes('the application was uninstalled from a portal'))
  t.match(logs.text(), /the application was installed on a portal/)

  const lines = out.slice(out.indexOf('One line per request below.')).split('\n').slice(1, -1)
  t.same(lines.map((line) => line.replace(/ \{.*$/, '')), [
    'ONAPPINSTALL of example.bitrix24.com: handed to simulate, which posts it',
    'app.info: an access token of example.bitrix24.com, issued to local.fakeportal0000.00000000',
    'ONIMBOTV2MESSAGEADD of example.bitrix24.com: handed to simulate, which posts it',
    'example.bitrix24.com REST imbot.v2.Chat.Message.send',
    'ONAPPUNINSTALL of example.bitrix24.com: handed to simulate, which posts it',
  ])

  await eventually(() => process.listenerCount('SIGTERM') > before)
  process.emit('SIGTERM')
  t.equal(await running, 0, 'SIGTERM stops it')
  t.equal(process.listenerCount('SIGTERM'), before, 'its listeners go with it')
  await t.rejects(fetch(`${url}/rest/app.info`), 'closed')
})

t.test('says in one line what is wrong with its arguments, or that it cannot listen', async (t) => {
  // Port 3101 held, by this test or by whoever holds it already: fake-portal cannot have it.
  const holder = createServer()
  await new Promise<void>((resolve) => holder.once('error', () => resolve()).listen(FAKE_PORTAL_PORT, '127.0.0.1', resolve))
  t.teardown(() => void holder.close())
  const cases: Array<[string[], RegExp]> = [
    [['--port', 'abc'], /^--port takes a port number, 0 to 65535$/],
    [['--port', '65536'], /^--port takes a port number, 0 to 65535$/],
    // Node's own words, longer in newer releases.
    [['--colour', 'red'], /^Unknown option '--colour'/],
    [['extra'], /^Unexpected argument 'extra'/],
    [[], /^cannot listen on 127\.0\.0\.1:3101 \(EADDRINUSE\): pass another --port$/],
  ]
  for (const [args, reason] of cases) {
    const { code, err, out } = await run(args)
    t.equal(code, 1, args.join(' '))
    t.match(err, /^b24-receiver fake-portal: [^\n]+\n$/)
    t.match(err.slice('b24-receiver fake-portal: '.length, -1), reason)
    t.equal(out, '')
  }
})
