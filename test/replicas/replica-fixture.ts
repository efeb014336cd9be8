import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import { samplePayload } from '../../src/simulate/sample-payload.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { APP_TOKEN, SECRET_KEY } from '../helpers.ts'
import { serveChild, type ServedChild } from '../serve-child.ts'
import { testDatabase } from '../store/postgres/postgres-fixture.ts'

// Replicas as an operator runs them: `b24-receiver serve` child processes (through tsx, like the
// other process tests) on one PostgreSQL database, with the same tokens and key and one shared
// EVENTS_FILE, which tells what was handled. Their claims on events last LEASE_TIMEOUT_MS = 2 s
// (the floor is 1 s), so that a takeover after a kill comes quickly.

/** How long a replica's claim lasts unrenewed here; the poller's own lease is fixed (6 s). */
export const LEASE_TIMEOUT_MS = 2000

export interface Replica extends ServedChild {
  /** Which of the set it is (its data directory), kept across restarts. */
  index: number
}

export interface ReplicaSet {
  databaseUrl: string
  eventsFile: string
  /** The replicas running now, by index (a killed one stays until it is started again). */
  replicas: Replica[]
  /** The URLs of the replicas whose process runs: a load balancer's rotation (a replica stopping stays in it until it exits). */
  running(): string[]
  /** Starts replica `index` (again), from `bin` (an earlier release's build) or these sources, and waits until its `/ready` says 200. */
  start(index: number, bin?: string): Promise<Replica>
  /** Sends `signal` and waits for the exit; its exit code. */
  stop(index: number, signal: NodeJS.Signals): Promise<number | null>
}

/**
 * `count` replicas on a fresh database (or `env.DATABASE_URL`), started at once, each ready.
 * Each is killed at the end of the test if still running.
 */
export async function startReplicas(t: Test, count: number, env: Record<string, string> = {}): Promise<ReplicaSet> {
  const set = await replicaSet(t, env)
  // Side by side, as a deployment starts them: the migrations must cope with it.
  await Promise.all(Array.from({ length: count }, (_, i) => set.start(i)))
  return set
}

/** The database, EVENTS_FILE and settings of a set of replicas, none started yet. */
export async function replicaSet(t: Test, env: Record<string, string> = {}): Promise<ReplicaSet> {
  const dir = t.testdir({})
  const databaseUrl = env.DATABASE_URL ?? (await testDatabase(t))
  const eventsFile = join(dir, 'events.jsonl')
  const replicas: Replica[] = []
  const base = {
    PORT: '0', B24_APP_TOKENS: APP_TOKEN, B24_SECRET_KEY: SECRET_KEY, DATABASE_URL: databaseUrl, EVENTS_FILE: eventsFile,
    LEASE_TIMEOUT_MS: String(LEASE_TIMEOUT_MS), LOG_LEVEL: 'info', WORKER_CONCURRENCY: '4', MAX_ATTEMPTS: '100', RETRY_BASE_MS: '20', RETRY_MAX_MS: '200',
    // A fake portal (messageBody's) is on this machine, over http: ctx.bitrix calls it only when named.
    B24_PORTAL_HOSTS: '127.0.0.1',
    // The fake portal keeps no REST limits, and the load answers hundreds of messages a second
    // through it: a bucket with room for them (pacing is test/receiver/outbound.test.ts's subject).
    B24_REST_RATE: '10000/10000',
  }
  return {
    databaseUrl,
    eventsFile,
    replicas,
    running: () => replicas.filter((replica) => replica.child.exitCode === null && replica.child.signalCode === null).map((replica) => replica.url),
    async start(index, bin) {
      // Generous: on a machine shared with other work, tsx may take many seconds to start one.
      const served = await serveChild({ ...base, DATA_DIR: join(dir, `replica-${index}`), ...env }, 60000, bin)
      t.teardown(() => void served.child.kill('SIGKILL'))
      const replica = { ...served, index }
      replicas[index] = replica
      await waitUntil(async () => (await readyStatus(replica.url)) === 200, 30000, `replica ${index} ready`)
      return replica
    },
    async stop(index, signal) {
      const replica = replicas[index] as Replica
      replica.child.kill(signal)
      return replica.exited
    },
  }
}

/** `GET /ready`'s status, 0 when the replica cannot be reached. */
export const readyStatus = (url: string): Promise<number> =>
  fetch(`${url}/ready`).then(
    (response) => response.status,
    () => 0,
  )

/** `GET /health` as JSON. */
export const health = async (url: string): Promise<{ poller: { replica: string; reader: string | null; state: string } | null }> =>
  (await fetch(`${url}/health`)).json() as Promise<{ poller: { replica: string; reader: string | null; state: string } | null }>

/** Waits until `check` holds, polling every 50 ms (the checks read files that grow under load); fails after `timeoutMs` naming what it waited for. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** The text of message `seq` in `chat`: no spaces, so that it reads the same in a form body. */
export const messageText = (chat: number, seq: number): string => `m-${chat}-${seq}-end`

/** Where a bot answers from: the event's OAuth `client_endpoint` and token (a fake portal's), or an unreachable portal by default. */
export interface BotPortal {
  restEndpoint: string
  accessToken: string
}

/**
 * A message to the bot in `chat` as Bitrix24 posts it (a form body, from the sample payload of
 * `b24-receiver simulate`), its text {@link messageText}; with `portal`, its OAuth credentials
 * point the bot's answer there.
 */
export function messageBody(chat: number, seq: number, portal?: BotPortal): string {
  const payload = samplePayload({ type: 'ONIMBOTV2MESSAGEADD', token: APP_TOKEN, chatId: chat, text: messageText(chat, seq), ts: 1_800_000_000 + seq }) as {
    data: { message: { id: number }; bot: { auth: Record<string, string> } }
    auth: Record<string, string>
  }
  payload.data.message.id = chat * 100_000 + seq
  if (portal) {
    for (const auth of [payload.auth, payload.data.bot.auth]) {
      auth.client_endpoint = portal.restEndpoint
      auth.access_token = portal.accessToken
      // The portal as a whole: ctx.bitrix calls an endpoint only on the event's own domain.
      auth.domain = new URL(portal.restEndpoint).host
    }
  }
  return encodeForm(payload as unknown as PhpValue)
}

/** One post of the load and what it got: 200 means acknowledged (stored); 0, no answer. */
export interface Post {
  chat: number
  seq: number
  text: string
  status: number
  /** `performance.now()` when it was sent and when its answer came. */
  sentAt: number
  answeredAt: number
}

export interface Load {
  posts: Post[]
  /** Resolves once `count` more posts than now are acknowledged (200); fails after 30 s naming `what`. */
  moreAcknowledged(count: number, what: string): Promise<void>
  /** Ends the load; resolves once every chat's last post is answered. */
  stop(): Promise<Post[]>
}

/**
 * A load balancer's view of the replicas, round robin over those `targets()` names (asked before
 * each post), posting to `/webhook` like Bitrix24: each of `chats` chats sends its messages one
 * after another (its order is defined by the answers), chats side by side, each post to the next
 * replica. Nothing is sent again: a post that gets no 200 is not acknowledged, as with Bitrix24.
 * `gapMs` between a chat's posts keeps the load at a rate the 2-core machine can follow. Stopped
 * at the end of `t` at the latest.
 */
export function startLoad(t: Test, options: { targets: () => string[]; chats: number; body: (chat: number, seq: number) => string; gapMs?: number }): Load {
  const posts: Post[] = []
  let turn = 0
  let running = true
  const chatLoop = async (chat: number) => {
    for (let seq = 0; running; seq++) {
      const targets = options.targets()
      const url = targets[turn++ % targets.length] as string
      const text = messageText(chat, seq)
      const sentAt = performance.now()
      const status = await fetch(`${url}/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' },
        body: options.body(chat, seq),
      }).then(
        async (response) => {
          await response.arrayBuffer()
          return response.status
        },
        () => 0,
      )
      posts.push({ chat, seq, text, status, sentAt, answeredAt: performance.now() })
      if (options.gapMs) await new Promise((resolve) => setTimeout(resolve, options.gapMs))
    }
  }
  const loops = Array.from({ length: options.chats }, (_, i) => chatLoop(i + 1))
  const stop = async () => {
    running = false
    await Promise.all(loops)
    return posts
  }
  const acknowledged = () => posts.filter((post) => post.status === 200).length
  const moreAcknowledged = async (count: number, what: string) => {
    const before = acknowledged()
    await waitUntil(() => acknowledged() >= before + count, 30000, what)
  }
  // A test that fails half way stops its load too.
  t.teardown(stop)
  return { posts, moreAcknowledged, stop }
}

/** A line of EVENTS_FILE, as far as these tests read it. */
export interface HandledLine {
  key: string
  event: { type: string; eventId: number | null; data: { message?: { text?: string }; chat?: { id?: number } } }
  delivery: { source: string; attempt: number }
}

/** The complete lines of EVENTS_FILE so far (none before it exists). */
export function readHandled(path: string): HandledLine[] {
  if (!existsSync(path)) return []
  const text = readFileSync(path, 'utf8')
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as HandledLine)
}

/**
 * The checks every replica test ends with, on the posts of a load and the lines of EVENTS_FILE:
 * every acknowledged post handled, each event (by key) once, nothing handled that was not posted,
 * each chat's events in the order they were posted.
 */
export function checkHandled(t: Test, posts: Post[], lines: HandledLine[]): void {
  const posted = new Map(posts.map((post) => [post.text, post]))
  const texts = lines.map((line) => line.event.data.message?.text ?? '')
  const keys = lines.map((line) => line.key)
  t.same(
    keys.filter((key, i) => keys.indexOf(key) !== i),
    [],
    'no event is handled twice (by key)',
  )
  t.same(
    texts.filter((text, i) => texts.indexOf(text) !== i),
    [],
    'no message is handled twice',
  )
  const seen = new Set(texts)
  t.same(
    posts.filter((post) => post.status === 200 && !seen.has(post.text)).map((post) => post.text),
    [],
    'every acknowledged event is handled',
  )
  t.same(
    texts.filter((text) => !posted.has(text)),
    [],
    'nothing is handled that was not posted',
  )
  const chats = new Set(posts.map((post) => post.chat))
  for (const chat of chats) {
    const order = texts.map((text) => posted.get(text)).filter((post) => post?.chat === chat).map((post) => (post as Post).seq)
    t.same(order, [...order].sort((a, b) => a - b), `chat ${chat}: handled in the order posted`)
  }
}

/**
 * The checks of a load that went on while replicas stopped and started: most posts acknowledged,
 * the others answered 503 or not at all (a replica stopping), then {@link checkHandled}.
 */
export function checkAcrossRestarts(t: Test, posts: Post[], lines: HandledLine[]): void {
  const refused = posts.filter((post) => post.status !== 200)
  t.ok(posts.length > refused.length, `${posts.length - refused.length} of ${posts.length} posts acknowledged; the others answered ${[...new Set(refused.map((post) => post.status))].join(', ') || '-'}`)
  t.same(new Set(refused.map((post) => post.status).filter((status) => status !== 503 && status !== 0)), new Set(), 'a post that is not acknowledged got a 503 or no answer (a replica stopping)')
  checkHandled(t, posts, lines)
}

/** Waits until every acknowledged post is in EVENTS_FILE; returns the lines (the checks tell what is missing). */
export async function waitForHandled(eventsFile: string, posts: Post[], timeoutMs = 30000): Promise<HandledLine[]> {
  const wanted = posts.filter((post) => post.status === 200).map((post) => post.text)
  let lines: HandledLine[] = []
  await waitUntil(
    () => {
      lines = readHandled(eventsFile)
      const texts = new Set(lines.map((line) => line.event.data.message?.text))
      return wanted.every((text) => texts.has(text))
    },
    timeoutMs,
    'every acknowledged event in EVENTS_FILE',
  ).catch(() => undefined)
  return readHandled(eventsFile)
}
