import { createServer, type AddressInfo } from 'node:net'
import t from 'tap'
import { CHAT_EVENT_TYPES } from '../../schemas/event-data.ts'
import { ensureLocalToken } from '../../src/auth/local-token.ts'
import { APP_TOKEN, eventually, runCommand, startTestApp } from '../helpers.ts'

const run = (args: string[], env: Record<string, string | undefined>) => runCommand(['simulate', ...args], { env })

t.test('posts a realistic event of every type that reaches the handler, typed', async (t) => {
  const server = await startTestApp()
  const portals: unknown[] = []
  server.receiver.onAny((_event, ctx) => void portals.push(ctx.portal.domain))
  t.teardown(server.close)
  const port = new URL(await server.listen()).port
  for (const type of CHAT_EVENT_TYPES) {
    const { code, out } = await run([type.toLowerCase(), '--text', 'hi there', '--chat', '77', '--user', '9', '--portal', 'acme.bitrix24.com'], { PORT: port, B24_APP_TOKENS: `m:${APP_TOKEN}` })
    t.equal(code, 0, type)
    t.equal(out.split('\n')[0], `${type} -> http://127.0.0.1:${port}/webhook: 200 {"ok":true}`)
    t.match(out.split('\n')[1], /^stored; the service's log shows it handled \(or why not\), \/health counts it, and `b24-receiver dlq list` holds it if it failed$/, 'where to look next')
  }
  await eventually(() => server.handled.length === CHAT_EVENT_TYPES.length)
  t.same(server.handled.map((event) => event.type), CHAT_EVENT_TYPES)
  t.match(server.handled[5], { type: 'ONIMBOTV2MESSAGEADD', data: { message: { text: 'hi there', chatId: 77, authorId: 9 }, chat: { id: 77, dialogId: 'chat77' }, user: { id: 9 } } })
  t.same(new Set(portals), new Set(['acme.bitrix24.com']))
})

t.test('uses the local token under DATA_DIR by default, or --token and --url', async (t) => {
  const dir = t.testdir()
  const { token } = await ensureLocalToken(dir)
  const server = await startTestApp({ tokens: [token] })
  t.teardown(server.close)
  const url = await server.listen()
  t.equal((await run(['ONIMV2JOINCHAT'], { PORT: new URL(url).port, DATA_DIR: dir })).code, 0)
  t.equal((await run(['ONIMV2JOINCHAT', '--url', `${url}/webhook`, '--token', token], {})).code, 0)
  const refused = await run(['ONIMV2JOINCHAT', '--url', `${url}/webhook`, '--token', 'wrong'], {})
  t.equal(refused.code, 1)
  t.match(refused.out, /: 401 \{"error":"INVALID_TOKEN"/)
})

t.test('says what is wrong with its arguments in one line', async (t) => {
  const closed = createServer()
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
  const { port } = closed.address() as AddressInfo
  await new Promise((resolve) => closed.close(resolve))
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [[], {}, /give an event type: ONIMV2MESSAGEADD, /],
    [['ONIMV2NOPE'], {}, /give an event type/],
    [['ONIMV2JOINCHAT', '--url', 'not a url'], { B24_APP_TOKENS: 'x' }, /cannot reach not a url: /],
    [['ONIMV2JOINCHAT', '--chat', 'abc'], { B24_APP_TOKENS: 'x' }, /--chat takes a positive integer/],
    [['ONIMV2JOINCHAT', '--colour', 'red'], {}, /Unknown option '--colour'/],
    [['ONIMV2JOINCHAT'], { DATA_DIR: '/nonexistent/b24' }, /no token: pass --token, set B24_APP_TOKENS/],
    [['ONIMV2JOINCHAT', '--url', `http://127.0.0.1:${port}/webhook`], { B24_APP_TOKENS: 'x' }, /cannot reach http:\/\/127.0.0.1:\d+\/webhook: fetch failed: Error: connect ECONNREFUSED/],
  ]
  for (const [args, env, reason] of cases) {
    const { code, err } = await run(args, env)
    t.equal(code, 1, args.join(' '))
    t.match(err, reason)
    t.equal(err.split('\n').length, 2)
  }
})
