import t from 'tap'
import { checkHandled, messageBody, startLoad, startReplicas, waitForHandled, waitUntil } from './replica-fixture.ts'

// Four services started through tsx one after the other, under load: tens of seconds on a busy machine.
t.setTimeout(180_000)

t.test('a rolling restart of both replicas under load loses nothing and handles nothing twice', async (t) => {
  const started = performance.now()
  const set = await startReplicas(t, 2)
  t.comment(`two replicas ready in ${Math.round(performance.now() - started)} ms`)
  const load = startLoad(t, { targets: set.running, chats: 4, body: (chat, seq) => messageBody(chat, seq), gapMs: 10 })
  const acknowledged = () => load.posts.filter((post) => post.status === 200).length
  const moreAcknowledged = async (count: number, what: string) => {
    const before = acknowledged()
    await waitUntil(() => acknowledged() >= before + count, 30000, what)
  }
  await moreAcknowledged(40, 'posts acknowledged before the restarts')
  for (const index of [0, 1]) {
    // SIGTERM: /ready turns 503, requests in flight are answered, handlers finish; then it comes back.
    t.equal(await set.stop(index, 'SIGTERM'), 0, `replica ${index} stops cleanly`)
    const restarting = performance.now()
    await set.start(index)
    t.comment(`replica ${index} back and ready in ${Math.round(performance.now() - restarting)} ms`)
    await moreAcknowledged(40, `posts acknowledged after replica ${index} is back`)
  }
  const posts = await load.stop()
  const lines = await waitForHandled(set.eventsFile, posts)
  const refused = posts.filter((post) => post.status !== 200)
  t.ok(posts.length > refused.length, `${posts.length - refused.length} of ${posts.length} posts acknowledged; the others answered ${[...new Set(refused.map((post) => post.status))].join(', ') || '-'}`)
  t.same(new Set(refused.map((post) => post.status).filter((status) => status !== 503 && status !== 0)), new Set(), 'a post that is not acknowledged got a 503 or no answer (a replica stopping)')
  checkHandled(t, posts, lines)
})
