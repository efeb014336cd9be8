import { spawn, spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { FakeOAuth, type FakeInstall } from '../fakes/fake-oauth.ts'
import { eventually } from '../helpers.ts'
import { userEnv, watchChild } from '../serve-child.ts'

// The attack run of issue 23 from outside, as it was found: the built `b24-receiver serve` in
// application mode (plain node, as `npx` runs it after `npm ci`), the OAuth server hanging
// (B24_OAUTH_TIMEOUT_MS=2000), a real install of portal M and a forger's, events with each token;
// then the OAuth server comes back.

const bin = fileURLToPath(new URL('../../bin/b24-receiver.js', import.meta.url))
const FORGER_TOKEN = 'f0rger0application0token00000000'

/** A bot message saying `text`, with the portal's own token or `token`. */
function message(oauth: FakeOAuth, portal: FakeInstall, text: string, token?: string): string {
  const body = oauth.eventBody(portal, 'ONIMBOTV2MESSAGEADD', token ? { auth: { application_token: token } } : {})
  return body.replace('data%5Bmessage%5D%5Btext%5D=Hello+from+b24-receiver+simulate', `data%5Bmessage%5D%5Btext%5D=${encodeURIComponent(text)}`)
}

t.test('the built serve: the real install is confirmed and its events handled, the forger’s dropped, no real event refused', async (t) => {
  const oauth = await new FakeOAuth().start()
  t.teardown(() => oauth.close())
  const dataDir = join(t.testdir(), 'data')
  const eventsFile = join(t.testdir(), 'events.jsonl')
  const env = { PORT: '0', DATA_DIR: dataDir, EVENTS_FILE: eventsFile, B24_CLIENT_ID: oauth.clientId, B24_CLIENT_SECRET: oauth.clientSecret, B24_OAUTH_URL: oauth.url, B24_OAUTH_TIMEOUT_MS: '2000' }
  const child = spawn(process.execPath, [bin, 'serve'], { env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  const served = watchChild(child, 'b24-receiver serve')
  t.teardown(() => void child.kill('SIGKILL'))
  const [, url] = await served.waitFor(/"url":"(http:[^"]+)"/)
  const post = async (body: string) => (await fetch(`${url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })).status
  const health = async () => ((await (await fetch(`${url}/health`)).json()) as { app: { portals: { active: number; pending: number }; pendingInstalls: { candidates: number; events: number } } }).app

  oauth.fail('hang')
  const real = oauth.install()
  const replies: Record<'real' | 'forged', number[]> = { real: [], forged: [] }
  // 1. The real install: no answer within 2 s, kept pending.
  replies.real.push(await post(oauth.installBody(real)))
  // 2. A forger's install of M: its own application token, a made-up access token.
  replies.forged.push(await post(oauth.installBody(real, { auth: { application_token: FORGER_TOKEN, access_token: 'made0up0access0token000000000000' } })))
  // 3. M's real events, and the forger's.
  for (const i of [1, 2]) replies.real.push(await post(message(oauth, real, `real ${i}`)))
  for (const i of [1, 2]) replies.forged.push(await post(message(oauth, real, `forged ${i}`, FORGER_TOKEN)))
  t.same(replies, { real: [200, 200, 200], forged: [200, 200, 200] })
  t.match(await health(), { portals: { active: 0, pending: 1 }, pendingInstalls: { candidates: 2, events: 6 } }, 'two installs of M wait, each with its events')

  // 4. The OAuth server comes back: it confirms the real install and refuses the forged one.
  oauth.fail('none')
  await eventually(async () => (await health()).pendingInstalls.candidates === 0, 30000)
  t.match(await health(), { portals: { active: 1, pending: 0 }, pendingInstalls: { events: 0 } })
  const handled = async () =>
    (await readFile(eventsFile, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event: { type: string; data: { message?: { text: string } } } })
  await eventually(async () => (await handled()).length === 3, 15000)
  t.same((await handled()).map(({ event }) => event.data.message?.text ?? event.type).sort(), ['ONAPPINSTALL', 'real 1', 'real 2'], 'the real install and its events, none of the forger’s')
  t.equal(await post(message(oauth, real, 'forged later', FORGER_TOKEN)), 401, 'the forger’s token is refused now')
  t.equal(await post(message(oauth, real, 'real 3')), 200)
  await eventually(async () => (await handled()).length === 4, 15000)
  t.same(replies.real.filter((status) => status === 401), [], '0 real events answered 401')

  child.kill('SIGTERM')
  t.equal(await served.waitForExit(15000), 0)
  const listed = spawnSync(process.execPath, [bin, 'portals', 'list', '--json'], { encoding: 'utf8', env: userEnv({ DATA_DIR: dataDir }), timeout: 20000 })
  t.same(JSON.parse(listed.stdout), { memberId: real.memberId, domain: real.domain, status: 'active', expiresAt: new Date(real.expires * 1000).toISOString() }, 'portals list: M, active')
  const log = served.output()
  t.match(log, /refused a pending install/)
  for (const secret of [real.accessToken, real.refreshToken, real.applicationToken, FORGER_TOKEN, oauth.clientSecret]) t.notOk(log.includes(secret), 'no token in the log')
})
