// A bot that answers every message under Bitrix24's REST limits: two replicas of the service on
// one fresh PostgreSQL database, each event carrying the REST endpoint and tokens of a stand-in
// portal that enforces the documented bucket and operating time (test/fakes/limited-portal.ts:
// 2/50, 480 s per method per ten minutes; each on a loopback host of its own), B24_PORTAL_HOSTS
// naming them, pacing as the service ships it (B24_REST_RATE's default, 2/50). The handler
// (bench/outbound-receiver.ts) answers each message with one `ctx.reply`. The floors are the
// issue's acceptance (#26):
//
// 1. A burst: OUTBOUND_N messages (400) of one portal over 50 chats, posted at once (split between
//    the replicas), the portal's bucket empty: every message answered exactly once, at most 1% of
//    the portal's calls answered QUERY_LIMIT_EXCEEDED, no dead letter, no attempt after the first,
//    and the last answer within 1.1 × the bucket's own minimum time, (N − 50) / 2 s, from the first
//    post. Meanwhile a second portal posts one message a second: each answered within 2 s (its
//    post to the message executed at its portal; p50 and max reported).
// 2. Two calls, the second limited: OUTBOUND_TWO_CALLS messages (20) whose handler sends the typing
//    notice, then its reply; the portal refuses that many replies once with QUERY_LIMIT_EXCEEDED
//    (not executed, as if another application on the account had taken the bucket): the notice
//    sent exactly once per message, each answered exactly once, no attempt after the first.
// 3. OPERATION_TIME_LIMIT answered for 20 s: the portal holds imbot.v2.Chat.Message.send for the
//    window, then 10 messages are posted: each answered exactly once, after the window, no attempt
//    after the first (the waits are not the handler's: HANDLER_TIMEOUT_MS is 10 s here, half the
//    window, so a wait counted against it would burn attempts).
// Dead letters are read from /metrics (`b24_dead_letters`, the shared store's count) at the end.
//
//   npm run bench -- outbound      OUTBOUND_N (400), OUTBOUND_TWO_CALLS (20),
//   BENCH_HANDLER_TIMEOUT_MS (10000), BENCH_DATABASE_URL (a database the benchmark may create
//   databases through; the local one by default). About (N − 50) / 2 s + 1 minute.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_BUCKET_RATE } from '../test/fakes/leaky-bucket.ts'
import { LimitedPortal } from '../test/fakes/limited-portal.ts'
import { EVENT_TOKEN } from './event-bodies.ts'
import type { OutboundReport } from './outbound-receiver.ts'
import { pacedLoad } from './paced-load.ts'
import { percentile } from './percentile.ts'
import { portalEventBody } from './portal-event-body.ts'
import { withScratchDatabase } from './scratch-database.ts'
import { serveChild, type ServerChild } from './serve-child.ts'
import { verdict } from './verdict.ts'

const N = Number(process.env.OUTBOUND_N ?? 400)
const TWO_CALLS_N = Number(process.env.OUTBOUND_TWO_CALLS ?? 20)
const HOLD_N = 10
const HOLD_MS = 20_000
const HANDLER_TIMEOUT_MS = process.env.BENCH_HANDLER_TIMEOUT_MS ?? '10000'
/** The burst's chats, round-robin: the worker may run up to this many of its events side by side. */
const CHATS = 50
/** After the last answer of a phase, how long a second answer (a message answered twice) is given to show. */
const SETTLE_MS = 3000
/** The second portal's floor, and how long one of its messages is waited for at the end. */
const TRICKLE_FLOOR_S = 2
const TRICKLE_WAIT_MS = 10_000
const SECRET_KEY = '5a'.repeat(32)
const SERVICE = new URL('./outbound-receiver.ts', import.meta.url)
/** The stand-in portals' hosts (loopback addresses, 127.0.0.0/8 on Linux): the burst's, the second portal's, the two calls', the held one's. */
const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4']
const SEND = 'imbot.v2.Chat.Message.send'
const NOTIFY = 'imbot.v2.Chat.InputAction.notify'
const HEADERS = { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' }

/** Message ids by phase, apart, and chats apart (a portal's chats are its own, but the ids tell the phases apart in the reports). */
const BURST = { ids: 1_000_000, chats: 10_000 }
const TRICKLE = { ids: 2_000_000, chats: 20_000 }
const TWO_CALLS = { ids: 3_000_000, chats: 30_000 }
const HOLD = { ids: 4_000_000, chats: 40_000 }

const answeredId = (text: string) => Number(/^answer to (\d+)$/.exec(text)?.[1] ?? Number.NaN)

/** How many times each message id was answered at `portal`, and when it first was (epoch ms). */
function answers(portal: LimitedPortal): { times: Map<number, number>; firstAt: Map<number, number> } {
  const times = new Map<number, number>()
  const firstAt = new Map<number, number>()
  for (const message of portal.messages) {
    const id = answeredId(message.text)
    times.set(id, (times.get(id) ?? 0) + 1)
    if (!firstAt.has(id)) firstAt.set(id, message.at)
  }
  return { times, firstAt }
}

/** Of `ids`: answered exactly once, more than once, never. */
function tally(portal: LimitedPortal, ids: number[]): { once: number; twice: number; never: number } {
  const { times } = answers(portal)
  const result = { once: 0, twice: 0, never: 0 }
  for (const id of ids) {
    const n = times.get(id) ?? 0
    if (n === 0) result.never++
    else if (n === 1) result.once++
    else result.twice++
  }
  return result
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) return false
    await sleep(100)
  }
  return true
}

const post = async (child: ServerChild, body: string): Promise<number> => {
  try {
    const response = await fetch(`${child.url}/webhook`, { method: 'POST', headers: HEADERS, body })
    await response.arrayBuffer()
    return response.status
  } catch {
    return 0
  }
}

/** Posts every body at once (evenly within 0.1 s), split between the replicas: how many were not answered 200. */
async function postAtOnce(children: ServerChild[], bodies: string[]): Promise<number> {
  const n = children.length
  const results = await Promise.all(
    children.map((child, k) => {
      const mine = bodies.filter((_, i) => i % n === k)
      return pacedLoad({ url: `${child.url}/webhook`, rate: mine.length * 10, seconds: 0.1, connections: 8, headers: HEADERS, body: (i) => mine[i] as string })
    }),
  )
  return results.reduce((sum, r) => sum + r.non2xx + r.errors, 0)
}

/** One message a second from `portal`, alternating replicas, until `stop()`: each message's id and when it was posted. */
async function trickle(children: ServerChild[], portal: LimitedPortal, stop: () => boolean): Promise<{ postedAt: Map<number, number>; failed: number }> {
  const postedAt = new Map<number, number>()
  const posts: Array<Promise<number>> = []
  const start = Date.now()
  for (let k = 0; ; k++) {
    await sleep(Math.max(0, start + k * 1000 - Date.now()))
    if (stop()) break
    const id = TRICKLE.ids + k
    const body = portalEventBody(portal, { id, text: `one a second ${k}`, chat: TRICKLE.chats + (k % 4) })
    postedAt.set(id, Date.now())
    posts.push(post(children[k % children.length] as ServerChild, body))
  }
  const statuses = await Promise.all(posts)
  return { postedAt, failed: statuses.filter((status) => status !== 200).length }
}

async function deadLetters(child: ServerChild): Promise<number> {
  const text = await (await fetch(`${child.url}/metrics`)).text()
  return Number(/^b24_dead_letters (\S+)$/m.exec(text)?.[1] ?? Number.NaN)
}

const range = (base: number, n: number) => Array.from({ length: n }, (_, i) => base + i)
const seconds = (ms: number) => (ms / 1000).toFixed(2)

export async function benchOutbound(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'b24-bench-outbound-'))
  // A host each: the service paces by a portal's host name (its port aside), as Bitrix24 counts a portal's bucket.
  const portals = await Promise.all(HOSTS.map((host) => LimitedPortal.start({ host })))
  try {
    return await withScratchDatabase('b24_bench_outbound', async (databaseUrl) => {
      const children: ServerChild[] = []
      try {
        return await measure(children, databaseUrl, dataDir, portals)
      } finally {
        // Before the database goes.
        for (const child of children) await child.stop().catch(() => undefined)
      }
    })
  } finally {
    for (const portal of portals) await portal.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function measure(children: ServerChild[], databaseUrl: string, dataDir: string, portals: LimitedPortal[]): Promise<string> {
  const [burstPortal, tricklePortal, twoCallsPortal, holdPortal] = portals as [LimitedPortal, LimitedPortal, LimitedPortal, LimitedPortal]
  for (let i = 0; i < 2; i++) {
    const env = {
      PORT: '0',
      DATA_DIR: join(dataDir, `replica-${i}`),
      DATABASE_URL: databaseUrl,
      B24_APP_TOKENS: EVENT_TOKEN,
      B24_SECRET_KEY: SECRET_KEY,
      B24_PORTAL_HOSTS: HOSTS.join(','),
      HANDLER_TIMEOUT_MS,
    }
    children.push(await serveChild(SERVICE, env, join(dataDir, `replica-${i}.log`)))
  }
  const lines: string[] = []

  // 1. The burst, and meanwhile one message a second from another portal.
  const { threshold, drainPerSecond } = DEFAULT_BUCKET_RATE
  const minimumS = Math.max(0, (N - threshold) / drainPerSecond)
  const burstIds = range(BURST.ids, N)
  const bodies = burstIds.map((id, i) => portalEventBody(burstPortal, { id, text: `message ${i}`, chat: BURST.chats + (i % CHATS) }))
  let burstDone = false
  const trickling = trickle(children, tricklePortal, () => burstDone)
  const start = Date.now()
  const burstNot200 = await postAtOnce(children, bodies)
  const drained = await until(() => answers(burstPortal).times.size >= N, Math.max(2 * minimumS * 1000, 60_000) + 60_000)
  burstDone = true
  const { postedAt, failed: trickleNot200 } = await trickling
  await until(() => [...postedAt.keys()].every((id) => answers(tricklePortal).times.has(id)), TRICKLE_WAIT_MS)
  await sleep(SETTLE_MS)
  const burst = tally(burstPortal, burstIds)
  const lastAnswerS = (Math.max(...burstPortal.messages.map((m) => m.at)) - start) / 1000
  const { calls, executed, refused } = burstPortal.counts
  const limitedShare = (refused.QUERY_LIMIT_EXCEEDED ?? 0) / calls
  const trickleFirst = answers(tricklePortal).firstAt
  const trickleLatencies = [...postedAt].map(([id, at]) => ((trickleFirst.get(id) ?? Number.POSITIVE_INFINITY) - at) / 1000)
  const trickleTally = tally(tricklePortal, [...postedAt.keys()])
  lines.push(
    `burst: ${N} messages over ${CHATS} chats posted at once (${burstNot200} not answered 200), portal's bucket ${drainPerSecond}/${threshold} (drain a second / threshold) from empty; ` +
      `${drained ? 'all answered' : 'NOT ALL ANSWERED'}; last answer ${lastAnswerS.toFixed(1)} s after the first post (the bucket's own minimum ${minimumS.toFixed(1)} s)`,
    `burst portal: ${calls} calls, ${executed} executed, refused ${JSON.stringify(refused)}; answered once ${burst.once}, twice or more ${burst.twice}, never ${burst.never}`,
    `second portal, one a second: ${postedAt.size} posted (${trickleNot200} not answered 200), post → answer p50 ${seconds(percentile(trickleLatencies, 0.5) * 1000)} s, ` +
      `max ${seconds(percentile(trickleLatencies, 1) * 1000)} s; answered once ${trickleTally.once}, twice or more ${trickleTally.twice}, never ${trickleTally.never}; refused ${JSON.stringify(tricklePortal.counts.refused)}`,
  )

  // 2. Two calls, the second limited once.
  const twoIds = range(TWO_CALLS.ids, TWO_CALLS_N)
  twoCallsPortal.refuseNext(SEND, 'QUERY_LIMIT_EXCEEDED', TWO_CALLS_N)
  const twoNot200 = await postAtOnce(
    children,
    twoIds.map((id, i) => portalEventBody(twoCallsPortal, { id, text: `two calls ${i}`, chat: TWO_CALLS.chats + i })),
  )
  const twoStart = Date.now()
  await until(() => answers(twoCallsPortal).times.size >= TWO_CALLS_N, 120_000)
  const twoS = (Date.now() - twoStart) / 1000
  await sleep(SETTLE_MS)
  const two = tally(twoCallsPortal, twoIds)
  const notices = new Map<string, number>()
  for (const call of twoCallsPortal.executed) if (call.method === NOTIFY) notices.set(String(call.params.dialogId), (notices.get(String(call.params.dialogId)) ?? 0) + 1)
  const noticesOnce = twoIds.filter((_, i) => notices.get(`chat${TWO_CALLS.chats + i}`) === 1).length
  const noticesAgain = [...notices.values()].filter((n) => n > 1).length
  lines.push(
    `two calls (typing notice, then the reply; ${TWO_CALLS_N} replies refused once with QUERY_LIMIT_EXCEEDED; ${twoNot200} not answered 200): answered in ${twoS.toFixed(1)} s; ` +
      `answered once ${two.once}, twice or more ${two.twice}, never ${two.never}; notice sent once ${noticesOnce}, more than once ${noticesAgain}; refused ${JSON.stringify(twoCallsPortal.counts.refused)}`,
  )

  // 3. OPERATION_TIME_LIMIT for 20 s.
  const holdIds = range(HOLD.ids, HOLD_N)
  holdPortal.operating.hold(SEND, HOLD_MS)
  const holdEnd = Date.now() + HOLD_MS
  const holdNot200 = await postAtOnce(
    children,
    holdIds.map((id, i) => portalEventBody(holdPortal, { id, text: `held ${i}`, chat: HOLD.chats + i })),
  )
  await until(() => answers(holdPortal).times.size >= HOLD_N, HOLD_MS + 120_000)
  await sleep(SETTLE_MS)
  const held = tally(holdPortal, holdIds)
  const holdAt = answers(holdPortal).firstAt
  const afterWindow = holdIds.map((id) => ((holdAt.get(id) ?? Number.POSITIVE_INFINITY) - holdEnd) / 1000)
  lines.push(
    `OPERATION_TIME_LIMIT for ${HOLD_MS / 1000} s (${HOLD_N} messages, ${holdNot200} not answered 200): answered once ${held.once}, twice or more ${held.twice}, never ${held.never}; ` +
      `answer after the window's end p50 ${seconds(percentile(afterWindow, 0.5) * 1000)} s, min ${seconds(percentile(afterWindow, 0) * 1000)} s, max ${seconds(percentile(afterWindow, 1) * 1000)} s; ` +
      `refused ${JSON.stringify(holdPortal.counts.refused)}`,
  )

  // Attempts, handler failures and dead letters, over both replicas.
  const reports = await Promise.all(children.map((child) => child.ask<OutboundReport>('report')))
  const dead = await deadLetters(children[0] as ServerChild)
  const lastAttempt = new Map<number, number>()
  const failures: Record<string, number> = {}
  for (const report of reports) {
    report.ids.forEach((id, i) => lastAttempt.set(id, Math.max(lastAttempt.get(id) ?? 0, report.attempts[i] as number)))
    for (const [code, n] of Object.entries(report.failures)) failures[code] = (failures[code] ?? 0) + n
  }
  const retried = (ids: number[]) => ids.filter((id) => (lastAttempt.get(id) ?? 1) > 1).length
  const runs = reports.reduce((sum, r) => sum + r.ids.length, 0)
  lines.push(`handlers: ${runs} runs for ${lastAttempt.size} messages; failures ${JSON.stringify(failures)}; dead letters ${dead}; HANDLER_TIMEOUT_MS ${HANDLER_TIMEOUT_MS}`)

  lines.push(
    verdict('burst: answered exactly once', burst.once, '≥', N, 0),
    verdict('burst: answered more than once', burst.twice, '≤', 0, 0),
    verdict('burst: share of calls QUERY_LIMIT_EXCEEDED', limitedShare, '≤', 0.01),
    verdict('burst: last answer, s', lastAnswerS, '≤', Number((1.1 * minimumS).toFixed(1)), 1),
    verdict('burst: messages tried again', retried(burstIds), '≤', 0, 0),
    verdict('second portal: slowest answer, s', percentile(trickleLatencies, 1), '≤', TRICKLE_FLOOR_S, 2),
    verdict('second portal: answered exactly once', trickleTally.once, '≥', postedAt.size, 0),
    verdict('two calls: first call sent more than once', noticesAgain, '≤', 0, 0),
    verdict('two calls: answered exactly once', two.once, '≥', TWO_CALLS_N, 0),
    verdict('two calls: messages tried again', retried(twoIds), '≤', 0, 0),
    verdict('held: answered exactly once', held.once, '≥', HOLD_N, 0),
    verdict('held: messages tried again', retried(holdIds), '≤', 0, 0),
    verdict('dead letters', dead, '≤', 0, 0),
  )
  return lines.join('\n')
}
