import t from 'tap'
import { proxied, testDatabase } from '../store/postgres/postgres-fixture.ts'
import { checkHandled, LEASE_TIMEOUT_MS, messageBody, readyStatus, startLoad, startReplicas, waitForHandled, waitUntil } from './replica-fixture.ts'

// Two services started through tsx, then an outage under load: tens of seconds on a busy machine.
t.setTimeout(120_000)

t.test('PostgreSQL unreachable for a while: 503 (never 200) meanwhile, then recovery without a restart', async (t) => {
  // The replicas reach PostgreSQL through a proxy the test cuts: the machine's server keeps running.
  const { proxy, url } = await proxied(t, await testDatabase(t))
  const set = await startReplicas(t, 2, { DATABASE_URL: url })
  const pids = set.replicas.map((replica) => replica.child.pid)
  const load = startLoad(t, { targets: set.running, chats: 4, body: (chat, seq) => messageBody(chat, seq), gapMs: 10 })
  const answered = (since: number, status?: number) => load.posts.filter((post) => post.sentAt > since && (status === undefined || post.status === status)).length
  await waitUntil(() => answered(0, 200) >= 40, 30000, 'posts acknowledged before the outage')

  const cutAt = performance.now()
  proxy.cut()
  const bothReady = async (status: number) => (await Promise.all(set.replicas.map((replica) => readyStatus(replica.url)))).every((got) => got === status)
  await waitUntil(() => bothReady(503), 20000, '/ready 503 on both replicas')
  const reason = (await (await fetch(`${set.replicas[0]?.url}/ready`)).json()) as { reason: string }
  t.match(reason.reason, /PostgreSQL/, `/ready says why: ${reason.reason}`)
  // The outage outlasts the replicas' claims (their renewals fail) and many refused posts.
  await waitUntil(() => answered(cutAt, 503) >= 40 && performance.now() - cutAt > LEASE_TIMEOUT_MS + 1000, 30000, 'posts refused during the outage')
  t.ok(await bothReady(503), 'still 503 on both at the end of the outage')
  const restoreAt = performance.now()
  proxy.restore()

  await waitUntil(() => bothReady(200), 30000, '/ready 200 on both replicas once PostgreSQL is back')
  t.comment(`outage ${Math.round(restoreAt - cutAt)} ms; ready again ${Math.round(performance.now() - restoreAt)} ms after`)
  await waitUntil(() => answered(restoreAt, 200) >= 40, 30000, 'posts acknowledged after the outage')
  const posts = await load.stop()
  t.same(
    set.replicas.map((replica) => [replica.child.pid, replica.child.exitCode]),
    pids.map((pid) => [pid, null]),
    'neither replica restarted',
  )

  // A post sent after the cut reached a replica after it: nothing it stored could be committed.
  const duringOutage = posts.filter((post) => post.sentAt > cutAt && post.answeredAt < restoreAt)
  t.same(
    duringOutage.filter((post) => post.status === 200).map((post) => post.text),
    [],
    `none of the ${duringOutage.length} posts during the outage is acknowledged`,
  )
  t.same(new Set(duringOutage.map((post) => post.status)), new Set([503]), 'each is answered 503')
  checkHandled(t, posts, await waitForHandled(set.eventsFile, posts))
})
