import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { FakeBitrix } from '../fakes/fake-portal.ts'
import { sql } from '../store/postgres/postgres-fixture.ts'
import { checkHandled, LEASE_TIMEOUT_MS, messageBody, messageText, startLoad, startReplicas, waitForHandled, waitUntil } from './replica-fixture.ts'

// Three services started through tsx under load, a claim waited out: tens of seconds on a busy machine.
t.setTimeout(180_000)

t.test('SIGKILL of a replica under load, then its restart: every acknowledged event handled once, in chat order; its claimed event finished by the other', async (t) => {
  // The handlers are the example bot's: each message is answered through Bitrix24 (the fake
  // portal the events' OAuth credentials point at). One message's answer hangs at the portal, so
  // the replica handling it holds its claim for certain when it is killed.
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  const slow = { chat: 1, seq: 15, text: messageText(1, 15) }
  let slowCalls = 0
  let hanging: () => void = () => undefined
  const hangs = new Promise<void>((resolve) => (hanging = resolve))
  let arrived: () => void = () => undefined
  const slowArrived = new Promise<void>((resolve) => (arrived = resolve))
  fake.onCall((call) => {
    if (call.method !== 'imbot.v2.Chat.Message.send' || !JSON.stringify(call.params).includes(slow.text)) return
    if (++slowCalls > 1) return
    arrived()
    return hangs
  })
  t.teardown(() => hanging())

  const set = await startReplicas(t, 2, { EXAMPLE_BOT: 'true' })
  const load = startLoad(t, { targets: set.running, chats: 4, body: (chat, seq) => messageBody(chat, seq, fake), gapMs: 10 })
  const acknowledged = () => load.posts.filter((post) => post.status === 200).length
  await slowArrived

  // The replica that claimed the slow message (its claim names its pid) is the one killed.
  const [claim] = await sql<{ claimed_by: string | null }>(set.databaseUrl, 'SELECT claimed_by FROM b24_inbox WHERE body LIKE $1', [`%${slow.text}%`])
  const pid = Number(/:(\d+):[^:]*$/.exec(claim?.claimed_by ?? '')?.[1])
  const victim = set.replicas.find((replica) => replica.child.pid === pid)
  t.ok(victim, `the slow message is claimed by a replica (${claim?.claimed_by ?? 'nobody'})`)
  if (!victim) return
  const before = acknowledged()
  const killedAt = performance.now()
  t.equal(await set.stop(victim.index, 'SIGKILL'), null, 'killed')

  // The other replica takes the claim over once it expires, and answers the message itself.
  await waitUntil(() => existsSync(set.eventsFile) && readFileSync(set.eventsFile, 'utf8').includes(`"text":"${slow.text}"`), 30000, 'the slow message handled by the other replica')
  const takeoverMs = performance.now() - killedAt
  t.comment(`the claimed message handled ${Math.round(takeoverMs)} ms after the kill (claims last ${LEASE_TIMEOUT_MS} ms)`)
  t.equal(slowCalls, 2, 'the other replica answered the message again')
  t.ok(acknowledged() > before, 'the other replica kept acknowledging meanwhile')

  const restarting = performance.now()
  await set.start(victim.index)
  t.comment(`restarted and ready in ${Math.round(performance.now() - restarting)} ms`)
  const after = acknowledged()
  await waitUntil(() => acknowledged() >= after + 40, 30000, 'posts acknowledged after the restart')
  const posts = await load.stop()
  t.ok(posts.some((post) => post.chat === slow.chat && post.seq > slow.seq + 5 && post.status === 200), 'its chat went on being posted to')
  checkHandled(t, posts, await waitForHandled(set.eventsFile, posts))
})
