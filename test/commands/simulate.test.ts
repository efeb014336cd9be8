import { createServer, type AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { CHAT_EVENT_TYPES } from '../../schemas/event-data.ts'
import { ensureLocalToken } from '../../src/auth/local-token.ts'
import { exampleBot } from '../../src/example-bot.ts'
import { fakePortalApp } from '../../src/fake-portal/fake-portal-app.ts'
import { FakePortals } from '../../src/fake-portal/fake-portals.ts'
import { sampleMemberId } from '../../src/simulate/sample-payload.ts'
import type { MemoryStore } from '../fakes/memory-store.ts'
import { APP_TOKEN, eventually, runCommand, SECRET_KEY, startTestApp } from '../helpers.ts'

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

const CLIENT = { clientId: 'local.try.1', clientSecret: 'try-secret' }

/** A fake portal listening on a free loopback port, every line it tells in `lines`; closed with `t`. */
async function fakePortal(t: Test) {
  let url = ''
  const lines: string[] = []
  const app = fakePortalApp({ portals: new FakePortals({ ...CLIENT, url: () => url }), onCall: (line) => void lines.push(line) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  return { url, lines }
}

t.test('with --fake-portal: the install is confirmed through the fake, the bot answers through it, the uninstall ends it', async (t) => {
  const fake = await fakePortal(t)
  const server = await startTestApp({ tokens: [], app: { ...CLIENT, oauthUrl: fake.url, oauthTimeoutMs: 5000 }, secretKey: SECRET_KEY, rest: { timeoutMs: 5000 } })
  server.receiver.use(exampleBot())
  t.teardown(server.close)
  const webhook = `${await server.listen()}/webhook`
  const send = (type: string, ...extra: string[]) => run([type, '--fake-portal', fake.url, '--url', webhook, '--portal', 'acme.bitrix24.com', ...extra], {})

  const installed = await send('onappinstall')
  t.equal(installed.code, 0)
  t.equal(installed.out.split('\n')[0], `ONAPPINSTALL -> ${webhook}: 200 {"ok":true}`)
  const memberId = sampleMemberId('acme.bitrix24.com')
  t.match(await (server.store as MemoryStore).portals.get(memberId), { domain: 'acme.bitrix24.com', status: 'active', clientEndpoint: `${fake.url}/portal/${memberId}/rest/` }, 'stored as app.info confirmed it')
  t.ok(fake.lines.includes('app.info: an access token of acme.bitrix24.com, issued to local.try.1'), 'confirmed by the fake’s OAuth server')

  t.equal((await send('ONIMBOTV2MESSAGEADD', '--text', 'hi', '--chat', '77', '--user', '9')).code, 0)
  await eventually(() => fake.lines.some((line) => line.startsWith('acme.bitrix24.com REST imbot.v2.Chat.Message.send')))
  t.match(fake.lines.find((line) => line.includes('REST')), /^acme\.bitrix24\.com REST imbot\.v2\.Chat\.Message\.send \{"botId":456,"dialogId":"chat77","fields":\{"message":"You wrote: hi",/, 'the example bot answered through the fake portal')
  t.equal((await send('ONAPPUPDATE')).code, 0)

  t.equal((await send('ONAPPUNINSTALL')).code, 0)
  await eventually(() => server.handled.length === 4)
  t.same(server.handled.map((event) => event.type), ['ONAPPINSTALL', 'ONIMBOTV2MESSAGEADD', 'ONAPPUPDATE', 'ONAPPUNINSTALL'])
  t.match(await (server.store as MemoryStore).portals.get(memberId), { status: 'uninstalled', version: '2' })
  const after = await send('ONIMBOTV2MESSAGEADD')
  t.equal(after.code, 1)
  t.equal(after.err, `b24-receiver simulate: the fake portal at ${fake.url} gives no ONIMBOTV2MESSAGEADD: the application is not installed on acme.bitrix24.com: simulate ONAPPINSTALL first\n`)
})

t.test('with --fake-portal against a service not in application mode: refused, and simulate says what the service needs', async (t) => {
  const fake = await fakePortal(t)
  const server = await startTestApp()
  t.teardown(server.close)
  const url = await server.listen()
  const refused = await run(['ONAPPINSTALL', '--fake-portal', fake.url], { PORT: new URL(url).port })
  t.equal(refused.code, 1)
  t.match(refused.out, /^ONAPPINSTALL -> http:\/\/127\.0\.0\.1:\d+\/webhook: 401 \{"error":"INVALID_TOKEN"/)
  t.match(refused.out, /\nrefused: the service must run in application mode against this fake portal \(B24_CLIENT_ID, B24_CLIENT_SECRET and B24_OAUTH_URL as `b24-receiver fake-portal` prints them\), and have had the ONAPPINSTALL of this portal\n$/)
  const wrong = await run(['ONAPPINSTALL', '--fake-portal', url], { PORT: new URL(url).port })
  t.equal(wrong.code, 1)
  t.equal(wrong.err, `b24-receiver simulate: the fake portal at ${url} gives no ONAPPINSTALL: HTTP 404, not an answer of b24-receiver fake-portal\n`, 'the service itself given as the fake portal')
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
    [['ONAPPINSTALL'], { B24_APP_TOKENS: 'x' }, /: ONAPPINSTALL comes from a portal with tokens its OAuth server issued: start `b24-receiver fake-portal` and pass --fake-portal URL$/m],
    [['ONIMV2MESSAGEADD', '--fake-portal', `http://127.0.0.1:${port}`], {}, /: with --fake-portal, give an event a portal posts: ONAPPINSTALL, ONAPPUPDATE, ONAPPUNINSTALL, ONIMBOTV2MESSAGEADD, .*ONIMBOTV2DELETE \(a user's ONIMV2\* events come by polling only\)$/m],
    [['ONAPPINSTALL', '--fake-portal', `http://127.0.0.1:${port}`, '--token', 'x'], {}, /: --token and --fake-portal do not go together/],
    [['ONAPPINSTALL', '--fake-portal', `http://127.0.0.1:${port}`], {}, /: cannot reach the fake portal at http:\/\/127.0.0.1:\d+: fetch failed: Error: connect ECONNREFUSED/],
    [['ONAPPINSTALL', '--fake-portal', 'not a url'], {}, /: cannot reach the fake portal at not a url: Invalid URL$/m],
  ]
  for (const [args, env, reason] of cases) {
    const { code, err } = await run(args, env)
    t.equal(code, 1, args.join(' '))
    t.match(err, reason)
    t.equal(err.split('\n').length, 2)
  }
})
