import t from 'tap'
import { checkAcrossRestarts, messageBody, startLoad, startReplicas, waitForHandled } from './replica-fixture.ts'

// Four services started through tsx one after the other, under load: tens of seconds on a busy machine.
t.setTimeout(180_000)

t.test('a rolling restart of both replicas under load loses nothing and handles nothing twice', async (t) => {
  const started = performance.now()
  const set = await startReplicas(t, 2)
  t.comment(`two replicas ready in ${Math.round(performance.now() - started)} ms`)
  const load = startLoad(t, { targets: set.running, chats: 4, body: (chat, seq) => messageBody(chat, seq), gapMs: 10 })
  await load.moreAcknowledged(40, 'posts acknowledged before the restarts')
  for (const index of [0, 1]) {
    // SIGTERM: /ready turns 503, requests in flight are answered, handlers finish; then it comes back.
    t.equal(await set.stop(index, 'SIGTERM'), 0, `replica ${index} stops cleanly`)
    const restarting = performance.now()
    await set.start(index)
    t.comment(`replica ${index} back and ready in ${Math.round(performance.now() - restarting)} ms`)
    await load.moreAcknowledged(40, `posts acknowledged after replica ${index} is back`)
  }
  const posts = await load.stop()
  const lines = await waitForHandled(set.eventsFile, posts)
  checkAcrossRestarts(t, posts, lines)
})
