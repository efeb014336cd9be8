import t, { type Test } from 'tap'
import { EVENT_TOKEN } from '../../bench/event-bodies.ts'
import { portalEventBody } from '../../bench/portal-event-body.ts'
import type { ChatEventOf } from '../../schemas/chat-event.ts'
import type { Handler } from '../../src/router/router.ts'
import type { RestRate } from '../../src/bitrix/rest-rate.ts'
import { LimitedPortal } from '../fakes/limited-portal.ts'
import { eventually, startTestApp, TEST_WORKER } from '../helpers.ts'

// End to end, the receiver's handlers answering through `ctx.reply` stand-in portals that keep
// Bitrix24's limits (test/fakes/limited-portal.ts): calls paced by each portal's bucket, a call the
// portal refused sent again inside the call, fair turns between portals. A fast bucket (20 a
// second, 12 at most) stands for the real one (2 a second, 50 at most): the rules are the same.
const RATE: RestRate = { drainPerSecond: 20, threshold: 12 }

async function portals(t: Test, count: number): Promise<LimitedPortal[]> {
  const started = await Promise.all(Array.from({ length: count }, (_, i) => LimitedPortal.start({ host: `127.0.0.${i + 1}`, rate: RATE })))
  t.teardown(() => Promise.all(started.map((portal) => portal.close())))
  return started
}

/** A receiver whose handler answers every message with `re: TEXT`, after `first` when given. */
async function replyingReceiver(t: Test, hosts: LimitedPortal[], concurrency = TEST_WORKER.concurrency, first?: Handler<ChatEventOf<'ONIMBOTV2MESSAGEADD'>>) {
  const started = await startTestApp({
    tokens: [EVENT_TOKEN],
    portalHosts: hosts.map((portal) => portal.url.slice('http://'.length).split(':')[0] as string),
    rest: { timeoutMs: 2000, rate: RATE },
    worker: { ...TEST_WORKER, concurrency },
  })
  t.teardown(() => started.app.close())
  const attempts: number[] = []
  started.receiver.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
    attempts.push(ctx.attempt)
    await first?.(event, ctx)
    await ctx.reply(`re: ${event.data.message.text}`)
  })
  return { ...started, attempts }
}

t.test('a burst past the bucket is paced, every message answered once, nothing refused; another portal is not held up behind it', async (t) => {
  const [busy, other] = (await portals(t, 2)) as [LimitedPortal, LimitedPortal]
  const { post, attempts, logs } = await replyingReceiver(t, [busy, other], 2)
  const burst = 40
  for (let i = 0; i < burst; i++) t.equal((await post(portalEventBody(busy, { id: 1000 + i, text: `burst ${i}`, chat: 100 + i }))).status, 200)
  const otherPostedAt = Date.now()
  t.equal((await post(portalEventBody(other, { id: 1, text: 'other', chat: 7 }))).status, 200)
  await eventually(() => busy.messages.length === burst && other.messages.length === 1)
  t.same(busy.counts.refused, {}, 'no call refused: each waited for room')
  t.equal(new Set(busy.messages.map((message) => message.text)).size, burst, 'each answered once')
  // Fair turns: the busy portal has at most `concurrency` (2) events under way, waiting for its
  // bucket or not, so the other's is taken at once and answered while the burst goes on at its
  // bucket's pace (20 a second). Without them it would wait behind what the busy portal has
  // claimed (up to 16 under way, the bound) and more: some 7 of the burst's answers would come
  // between its post and its answer.
  const between = busy.messages.filter((message) => message.at > otherPostedAt && message.at < (other.messages[0]?.at as number)).length
  t.ok(between <= 3, `the other portal's answer waited for ${between} of the burst's`)
  t.ok(attempts.every((attempt) => attempt === 1), 'no attempt burnt waiting')
  t.notMatch(logs.text(), busy.accessToken, 'no token logged')
})

t.test('a call the portal refused was not executed: sent again inside the call, the call before it not repeated', async (t) => {
  const [portal] = (await portals(t, 1)) as [LimitedPortal]
  const { post, attempts } = await replyingReceiver(t, [portal], TEST_WORKER.concurrency, async (event, ctx) => {
    await ctx.bitrix.call('imbot.v2.Chat.InputAction.notify', { dialogId: event.data.chat.dialogId, type: 'writing' })
  })
  portal.refuseNext('imbot.v2.Chat.Message.send', 'QUERY_LIMIT_EXCEEDED', 2)
  t.equal((await post(portalEventBody(portal, { id: 1, text: 'hello', chat: 5 }))).status, 200)
  await eventually(() => portal.messages.length === 1)
  t.same(
    portal.executed.map((call) => call.method),
    ['imbot.v2.Chat.InputAction.notify', 'imbot.v2.Chat.Message.send'],
    'the notice sent once, the reply executed once',
  )
  t.same(portal.counts.refused, { QUERY_LIMIT_EXCEEDED: 2 }, 'the reply refused twice on its way')
  t.same(attempts, [1], 'one attempt: the handler did not run again')
})

t.test("time waiting for the bucket is not the handler's: a handler waiting past HANDLER_TIMEOUT_MS for room succeeds on its first attempt", async (t) => {
  // 10 a second, 3 at most (1 granted at once, 2 kept as a margin): the handler's 5 calls wait
  // about 400 ms for room in all, 4 times its 100 ms.
  const slow: RestRate = { drainPerSecond: 10, threshold: 3 }
  const portal = await LimitedPortal.start({ rate: slow })
  t.teardown(() => portal.close())
  const { post, receiver } = await startTestApp({
    tokens: [EVENT_TOKEN],
    portalHosts: ['127.0.0.1'],
    rest: { timeoutMs: 2000, rate: slow },
    worker: { ...TEST_WORKER, handlerTimeoutMs: 100 },
  })
  const attempts: number[] = []
  receiver.on('ONIMBOTV2MESSAGEADD', async (_event, ctx) => {
    attempts.push(ctx.attempt)
    for (let i = 1; i <= 5; i++) await ctx.reply(`part ${i}`)
  })
  t.equal((await post(portalEventBody(portal, { id: 1, text: 'long answer', chat: 9 }))).status, 200)
  await eventually(() => portal.messages.length === 5)
  t.same(portal.messages.map((message) => message.text), ['part 1', 'part 2', 'part 3', 'part 4', 'part 5'], 'each part sent once')
  t.same(attempts, [1], 'one attempt, not timed out')
  t.same(portal.counts.refused, {})
})
