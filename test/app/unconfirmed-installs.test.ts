import t, { type Test } from 'tap'
import type { AppOptions } from '../../src/app/app-options.ts'
import type { ReceiverOptions } from '../../src/receiver/receiver-options.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import type { CandidateRow } from '../../schemas/portal.ts'
import type { NewRecord, Store } from '../../src/store/store.ts'
import { FakeOAuth, type FakeInstall } from '../fakes/fake-oauth.ts'
import { ManualClock } from '../fakes/manual-clock.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { eventually, SECRET_KEY, startTestApp } from '../helpers.ts'
import { openPgStore } from '../store/postgres/postgres-fixture.ts'
import { portalRow } from '../store/store-contract.ts'

// An install the OAuth server cannot confirm yet replaces and hides nothing (issue 23, part 1):
// the attack run's four steps, in every order of arrival, against a portal never installed, one
// installed, one to reinstall and one uninstalled; the bounds; and an outage of 20 s under 300
// forged installs, on a clock of the test's own.

const sealer = createSealer(Buffer.from(SECRET_KEY, 'hex'))
const FORGER_TOKEN = 'f0rger0application0token00000000'
const MADE_UP_ACCESS = 'made0up0access0token000000000000'

async function oauthServer(t: Test) {
  const oauth = await new FakeOAuth().start()
  t.teardown(() => oauth.close())
  return oauth
}

/** A receiver in application mode for `oauth`: a MemoryStore unless a store is given; an OAuth server that hangs costs it 300 ms, its pauses are short. */
async function appReceiver(t: Test, oauth: FakeOAuth, app: Partial<AppOptions> = {}, options: Partial<ReceiverOptions> = {}) {
  const started = await startTestApp({
    tokens: [],
    app: { clientId: oauth.clientId, clientSecret: oauth.clientSecret, oauthUrl: oauth.url, oauthTimeoutMs: 300, confirmRetryBaseMs: 50, confirmRetryMaxMs: 200, ...app },
    secretKey: SECRET_KEY,
    rest: { timeoutMs: 2000 },
    ...options,
  })
  t.teardown(() => started.close())
  return started
}

const appInfoCalls = (oauth: FakeOAuth) => oauth.calls.filter((call) => call.endpoint === 'app.info').length

/** What a forger posts for `portal`: its own application token and a made-up access token. */
const forgedInstall = (oauth: FakeOAuth, portal: FakeInstall, token = FORGER_TOKEN) => oauth.installBody(portal, { auth: { application_token: token, access_token: MADE_UP_ACCESS } })
/** A bot message event of the portal saying `text` (its own dedup key), with the portal's token unless another is given. */
const withText = (body: string, text: string) => body.replace('data%5Bmessage%5D%5Btext%5D=Hello+from+b24-receiver+simulate', `data%5Bmessage%5D%5Btext%5D=${encodeURIComponent(text)}`)
const forgedEvent = (oauth: FakeOAuth, portal: FakeInstall, text: string, token = FORGER_TOKEN) => withText(oauth.eventBody(portal, 'ONIMBOTV2MESSAGEADD', { auth: { application_token: token } }), text)
const realEvent = (oauth: FakeOAuth, portal: FakeInstall, text: string) => withText(oauth.eventBody(portal, 'ONIMBOTV2MESSAGEADD'), text)

/** The text of each handled message event. */
const texts = (handled: Array<{ type: string; data?: unknown }>) =>
  handled.filter((event) => event.type === 'ONIMBOTV2MESSAGEADD').map((event) => (event.data as { message?: { text?: string } }).message?.text)

type Existing = 'none' | 'active' | 'reinstall' | 'uninstalled'
type Step = 'real install' | 'forged install' | 'real event' | 'forged event'

/** Every order of the four arrivals in which each install comes before its own event. */
function orders(): Step[][] {
  const steps: Step[] = ['real install', 'forged install', 'real event', 'forged event']
  const all: Step[][] = []
  const permute = (done: Step[], left: Step[]) => {
    if (left.length === 0) return void all.push(done)
    for (const step of left) permute([...done, step], left.filter((other) => other !== step))
  }
  permute([], steps)
  return all.filter((order) => order.indexOf('real install') < order.indexOf('real event') && order.indexOf('forged install') < order.indexOf('forged event'))
}

/**
 * The attack run: while the OAuth server hangs, the real (re)install of M and a forger's, and an
 * event with each token, in `order`; then the OAuth server comes back. Whatever M had before stays
 * until the real install is confirmed; the forger's install goes with its events, and nothing else.
 */
async function attackRun(t: Test, existing: Existing, order: Step[], store?: Store) {
  const oauth = await oauthServer(t)
  const { post, handled, logs, receiver, store: memory } = await appReceiver(t, oauth, {}, store ? { store } : {})
  const portals = (store ?? memory)!.portals!
  const candidates = (store ?? memory)!.candidates!
  const before = existing === 'none' ? null : oauth.install()
  if (before) {
    t.equal((await post(oauth.installBody(before))).status, 200, 'installed before')
    if (existing === 'reinstall') await portals.update(before.memberId, { status: 'reinstall' })
    if (existing === 'uninstalled') t.equal((await post(oauth.uninstallBody(before))).status, 200, 'uninstalled before')
  }
  const kept = before && (await portals.get(before.memberId))
  await eventually(() => handled.length === (existing === 'none' ? 0 : existing === 'uninstalled' ? 2 : 1))
  const handledBefore = handled.length
  oauth.fail('hang')
  const real = oauth.install(before ? { memberId: before.memberId, domain: before.domain } : {})
  const bodies: Record<Step, string> = {
    // Not the same second as the install before: it would be a double delivery of it to the dedup.
    'real install': oauth.installBody(real, { ts: String(Math.floor(Date.now() / 1000) + 60) }),
    'forged install': forgedInstall(oauth, real),
    'real event': realEvent(oauth, real, 'real'),
    'forged event': forgedEvent(oauth, real, 'forged'),
  }
  for (const step of order) t.equal((await post(bodies[step])).status, 200, `${step}: 200`)
  t.same(await portals.get(real.memberId), kept, 'whatever M had stays while nothing is confirmed')
  t.equal((await candidates.of(real.memberId)).length, 2, 'two installs wait, each its own')
  t.same(handled.length, handledBefore, 'nothing handled meanwhile')

  oauth.fail('none')
  await eventually(async () => (await candidates.stats()).candidates === 0, 10000)
  t.match(await portals.get(real.memberId), { status: 'active', applicationToken: sealer.digest(real.applicationToken), domain: real.domain }, 'the real install is the portal')
  await eventually(() => texts(handled).length === 1, 10000)
  await eventually(() => handled.length === handledBefore + 2)
  t.same(handled.slice(handledBefore).map((event) => event.type).sort(), ['ONAPPINSTALL', 'ONIMBOTV2MESSAGEADD'], 'its install and its event handled (chats of their own: in either order)')
  t.same(texts(handled), ['real'], 'the forger’s event dropped')
  t.equal((await post(forgedEvent(oauth, real, 'forged later'))).status, 401, 'the forger’s token is refused now')
  t.equal((await post(realEvent(oauth, real, 'real later'))).status, 200)
  await eventually(() => texts(handled).length === 2)
  t.same(await receiver.portal(real.memberId).call('profile'), { ID: 1, ADMIN: true, NAME: 'John', LAST_NAME: 'Smith', PERSONAL_GENDER: 'M', TIME_ZONE: '', TIME_ZONE_OFFSET: 0 }, 'called with the real install’s tokens')
  t.match(logs.text(), /refused a pending install/)
  for (const secret of [real.accessToken, real.refreshToken, real.applicationToken, FORGER_TOKEN, MADE_UP_ACCESS, oauth.clientSecret]) t.notOk(logs.text().includes(secret), 'no token in the log')
}

for (const existing of ['none', 'active', 'reinstall', 'uninstalled'] as const) {
  t.test(`a forged install while the OAuth server hangs takes nothing from the real one (M ${existing === 'none' ? 'never installed' : existing}), in every order of arrival`, async (t) => {
    for (const order of orders()) await t.test(order.join(', '), (t) => attackRun(t, existing, order))
  })
}

t.test('the attack run on the embedded SQLite store and on PostgreSQL', async (t) => {
  const order: Step[] = ['forged install', 'real install', 'forged event', 'real event']
  await t.test('SQLite', (t) => attackRunOnDir(t, order))
  await t.test('PostgreSQL', async (t) => attackRun(t, 'reinstall', order, await openPgStore(t)))
})

/** The attack run with the embedded store the receiver opens itself in `dataDir`. */
async function attackRunOnDir(t: Test, order: Step[]) {
  const oauth = await oauthServer(t)
  const { post, handled, receiver, close } = await appReceiver(t, oauth, {}, { dataDir: t.testdir(), store: undefined })
  oauth.fail('hang')
  const real = oauth.install()
  const bodies: Record<Step, string> = {
    'real install': oauth.installBody(real),
    'forged install': forgedInstall(oauth, real),
    'real event': realEvent(oauth, real, 'real'),
    'forged event': forgedEvent(oauth, real, 'forged'),
  }
  for (const step of order) t.equal((await post(bodies[step])).status, 200, `${step}: 200`)
  oauth.fail('none')
  await eventually(() => texts(handled).length === 1, 10000)
  t.same(texts(handled), ['real'])
  await eventually(async () => (await receiver.health()).app?.pendingInstalls.candidates === 0, 10000)
  t.match((await receiver.health()).app, { portals: { active: 1, pending: 0 }, pendingInstalls: { events: 0 } })
  await close()
}

t.test('bounds: installs per portal and in all, events per install; past one, 503 and nothing stored', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store, handled } = await appReceiver(t, oauth, { pendingPerPortal: 2, pendingInstalls: 3, pendingEvents: 3 })
  const memory = store as MemoryStore
  oauth.fail('hang')
  const real = oauth.install()
  t.equal((await post(oauth.installBody(real))).status, 200)
  t.equal((await post(forgedInstall(oauth, real))).status, 200)
  const full = await post(forgedInstall(oauth, real, 'another0forger0token000000000000'))
  t.equal(full.status, 503, 'a third install of one portal')
  t.same(await full.json(), { error: 'TOO_MANY_PENDING_INSTALLS', message: 'this portal has 2 installs waiting for the OAuth server to confirm them: try again later' })
  t.same(await memory.candidates.stats(), { candidates: 2, events: 2 }, 'nothing of it stored')
  t.equal((await post(oauth.installBody(oauth.install()))).status, 200, 'another portal')
  const total = await post(oauth.installBody(oauth.install()))
  t.equal(total.status, 503, 'a fourth in all')
  t.match(await total.json(), { error: 'TOO_MANY_PENDING_INSTALLS', message: /^3 installs are waiting/ })
  t.equal((await post(realEvent(oauth, real, 'one'))).status, 200)
  t.equal((await post(realEvent(oauth, real, 'two'))).status, 200)
  const events = await post(realEvent(oauth, real, 'three'))
  t.equal(events.status, 503, 'a fourth event of one install (its ONAPPINSTALL counts)')
  t.match(await events.json(), { error: 'TOO_MANY_PENDING_INSTALLS', message: /holds 3 events already/ })
  t.same(await memory.candidates.stats(), { candidates: 3, events: 5 }, 'nothing of it stored')
  t.equal(memory.rows.length, 0, 'nor in the inbox')
  t.equal((await post(forgedEvent(oauth, real, 'forged'))).status, 200, 'the forger’s install holds its own count')
  oauth.fail('none')
  await eventually(() => texts(handled).length === 2, 10000)
  t.same(texts(handled), ['one', 'two'])
})

t.test('300 forged installs during a 20 s outage stay within the bounds and cost the OAuth server a handful of calls; then all is settled', async (t) => {
  const oauth = await oauthServer(t)
  const clock = new ManualClock(Date.now())
  // The defaults but the clock: 2 s doubling to 5 min, 4 in flight, 3 per portal, 1000 in all.
  // A 503 is instant: the timeout only keeps a loaded machine's slow answers from counting as none.
  const { post, store, handled, inject } = await appReceiver(t, oauth, { clock, oauthTimeoutMs: 10000, confirmRetryBaseMs: undefined, confirmRetryMaxMs: undefined }, { tokens: [] })
  const memory = store as MemoryStore
  const health = async () => (await (await inject({ method: 'GET', url: '/health' })).json()).app
  const real = oauth.install()
  oauth.fail('503')
  const start = appInfoCalls(oauth)
  t.equal((await post(oauth.installBody(real))).status, 200, 'the real install, kept pending')
  const statuses: number[] = []
  let forged = 0
  let realEvents = 0
  // 20 s of outage in steps of 100 ms: 15 forgeries a second, a real event every 2 s; the
  // confirmations that come due run on the test's clock, each waited for.
  for (let step = 0; step < 200; step++) {
    for (let i = 0; i < 2 && forged < 300; i++, forged++) {
      // A third of them against the real portal M, the rest against portals of their own.
      const target = forged % 3 === 0 ? real : { ...real, memberId: `forged${String(forged).padStart(26, '0')}`, domain: `forged-${forged}.bitrix24.com` }
      statuses.push((await post(forgedInstall(oauth, target as FakeInstall, `${FORGER_TOKEN.slice(0, 24)}${String(forged).padStart(8, '0')}`))).status)
    }
    if (step % 20 === 0) t.equal((await post(realEvent(oauth, real, `real ${realEvents++}`))).status, 200)
    clock.advance(100)
    await eventually(async () => (await health()).pendingInstalls.confirming === 0)
  }
  const during = appInfoCalls(oauth) - start
  const figures = await health()
  t.ok(during <= 100, `the outage cost ${during} app.info calls (at most 100)`)
  t.equal(forged, 300)
  t.equal(statuses.filter((status) => status === 200).length, 200 + 2, 'each other portal’s, and two against M beside the real one')
  t.equal(statuses.filter((status) => status === 503).length, 98, 'the rest against M: its bound')
  t.equal((await memory.candidates.of(real.memberId)).length, 3)
  t.match(figures.pendingInstalls, { candidates: 203, events: 203 + realEvents, limits: { perPortal: 3, installs: 1000, eventsPerInstall: 1000, confirming: 4 } })
  t.ok(figures.pendingInstalls.oauthRestingUntil, 'resting says until when')
  t.equal(figures.portals.pending, 201)
  t.same(handled, [])

  oauth.fail('none')
  // The next lone try after the pauses so far (2, 4, 8, 16 s) finds it answering; the rest follow, four at a time.
  while ((await memory.candidates.stats()).candidates > 0) {
    clock.advance(1000)
    await eventually(async () => (await health()).pendingInstalls.confirming === 0)
  }
  const total = appInfoCalls(oauth) - start
  t.ok(total <= during + 203, `${total} app.info calls in all: one for each install once the server answers`)
  t.match(await memory.portals.get(real.memberId), { status: 'active' })
  t.equal((await memory.portals.list()).length, 1, 'no forged portal')
  await eventually(() => texts(handled).length === realEvents, 10000)
  t.same(texts(handled), Array.from({ length: realEvents }, (_, i) => `real ${i}`), 'the real events, in order')
  t.match((await health()).pendingInstalls, { candidates: 0, events: 0, confirming: 0, oauthRestingUntil: null })
  t.comment(`300 forged installs: ${during} app.info calls during the 20 s outage, ${total} in all`)
})

t.test('the same install delivered again while it waits joins itself: one install, nobody asked twice', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store } = await appReceiver(t, oauth, { confirmRetryBaseMs: 60000, confirmRetryMaxMs: 60000 })
  const memory = store as MemoryStore
  oauth.fail('503')
  const real = oauth.install()
  t.equal((await post(oauth.installBody(real))).status, 200)
  const calls = appInfoCalls(oauth)
  t.equal((await post(oauth.installBody(real))).status, 200)
  t.same(await memory.candidates.stats(), { candidates: 1, events: 2 })
  t.equal(appInfoCalls(oauth), calls)
})

t.test('while the OAuth server rests, a new application token in an update answers 503 and changes nothing', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store } = await appReceiver(t, oauth, { confirmRetryBaseMs: 60000, confirmRetryMaxMs: 60000 })
  const portal = oauth.install()
  t.equal((await post(oauth.installBody(portal))).status, 200)
  const row = await (store as MemoryStore).portals.get(portal.memberId)
  oauth.fail('503')
  t.equal((await post(oauth.installBody(oauth.install()))).status, 200, 'another portal’s install, unanswered: the server rests')
  oauth.fail('none')
  const calls = appInfoCalls(oauth)
  const reply = await post(oauth.updateBody(portal, { applicationToken: 'a-new-application-token-0000000' }))
  t.equal(reply.status, 503)
  t.match(await reply.json(), { error: 'INSTALL_NOT_CONFIRMED_YET' })
  t.equal(appInfoCalls(oauth), calls, 'not asked')
  t.same(await (store as MemoryStore).portals.get(portal.memberId), row)
})

t.test('an install confirmed since a pending one arrived stays the portal; the pending one’s events are handled under it', async (t) => {
  const oauth = await oauthServer(t)
  const { post, store, handled, logs } = await appReceiver(t, oauth, { confirmRetryBaseMs: 100, confirmRetryMaxMs: 100 })
  const memory = store as MemoryStore
  oauth.fail('hang')
  const real = oauth.install()
  t.equal((await post(oauth.installBody(real))).status, 200)
  t.equal((await post(realEvent(oauth, real, 'waited'))).status, 200)
  // Another replica confirmed a later install of M meanwhile.
  const later = portalRow(real.memberId, { installedAt: Date.now() + 60000, applicationToken: 'another-hash' })
  await memory.portals.put(later)
  oauth.fail('none')
  await eventually(() => texts(handled).length === 1, 10000)
  t.same(await memory.portals.get(real.memberId), later)
  t.match(logs.text(), /an install confirmed since stays the portal/)
})

t.test('an event whose pending install is settled while it is stored is looked at again: the portal’s now, or refused', async (t) => {
  const oauth = await oauthServer(t)
  const store = new MemoryStore()
  const candidates = store.candidates
  // Another replica settles the install between the door's look and its write (`settle`), or a
  // store keeps showing one it cannot store under (`stale`).
  let settle: ((id: number) => Promise<unknown>) | null = null
  let stale: CandidateRow | null = null
  Object.assign(store, {
    candidates: {
      ...candidates,
      of: async (memberId: string) => (stale ? [stale] : candidates.of(memberId)),
      append: async (id: number, record: NewRecord, max: number) => {
        if (stale) return 'gone'
        await settle?.(id)
        return candidates.append(id, record, max)
      },
    },
  })
  const { post } = await appReceiver(t, oauth, { confirmRetryBaseMs: 60000, confirmRetryMaxMs: 60000 }, { store })
  oauth.fail('503')
  const confirmed = oauth.install()
  const refused = oauth.install()
  t.equal((await post(oauth.installBody(confirmed))).status, 200)
  t.equal((await post(oauth.installBody(refused))).status, 200)
  const [first] = [...store.candidateRows.values()] as [CandidateRow]
  settle = async (id) => (id === first.id ? candidates.confirm(id, portalRow(confirmed.memberId, { applicationToken: sealer.digest(confirmed.applicationToken) })) : candidates.drop(id))
  t.equal((await post(realEvent(oauth, confirmed, 'stored as the portal’s'))).status, 200)
  t.equal(store.rows.filter((row) => row.type === 'ONIMBOTV2MESSAGEADD').length, 1, 'in the inbox')
  t.equal((await post(realEvent(oauth, refused, 'refused'))).status, 401)

  stale = { ...first, memberId: refused.memberId, applicationToken: sealer.digest(refused.applicationToken) }
  const reply = await post(realEvent(oauth, refused, 'again'))
  t.equal(reply.status, 503, 'not a loop')
  t.match(await reply.json(), { error: 'INSTALL_NOT_CONFIRMED_YET' })
})

t.test('/health: the pending installs, their events, the confirmations in flight, when the OAuth server is asked again, and the bounds', async (t) => {
  const oauth = await oauthServer(t)
  const { post, inject } = await appReceiver(t, oauth, { confirmRetryBaseMs: 60000, confirmRetryMaxMs: 60000 })
  const health = async () => (await (await inject({ method: 'GET', url: '/health' })).json()).app
  t.same((await health()).pendingInstalls, { candidates: 0, events: 0, confirming: 0, oauthRestingUntil: null, limits: { perPortal: 3, installs: 1000, eventsPerInstall: 1000, confirming: 4 } })
  oauth.fail('503')
  const real = oauth.install()
  const before = Date.now()
  await post(oauth.installBody(real))
  await post(realEvent(oauth, real, 'x'))
  const figures = await health()
  t.match(figures, { portals: { active: 0, pending: 1 }, pendingInstalls: { candidates: 1, events: 2, confirming: 0 } })
  const resting = Date.parse(figures.pendingInstalls.oauthRestingUntil)
  t.ok(resting >= before + 60000 && resting <= Date.now() + 60000, 'asked again in a minute')
})

t.test('the bounds and pauses of application mode are checked when the receiver is made; a store needs candidates', async (t) => {
  const oauth = await oauthServer(t)
  const app = { clientId: oauth.clientId, clientSecret: oauth.clientSecret, oauthUrl: oauth.url }
  for (const name of ['pendingPerPortal', 'pendingInstalls', 'pendingEvents', 'oauthConcurrency', 'confirmRetryBaseMs', 'confirmRetryMaxMs', 'oauthTimeoutMs']) {
    for (const value of [0, 1.5, -1]) await t.rejects(startTestApp({ tokens: [], app: { ...app, [name]: value } }), { name: 'ConfigError', message: `app.${name} must be a whole number of at least 1` })
  }
  const store = new MemoryStore()
  const { candidates: _, ...withoutCandidates } = store
  await t.rejects(startTestApp({ tokens: [], app, store: Object.assign(Object.create(MemoryStore.prototype), withoutCandidates) }), { name: 'ConfigError', message: /no `candidates`/ })
})
