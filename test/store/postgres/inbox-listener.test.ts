import t, { type Test } from 'tap'
import { InboxListener } from '../../../src/store/postgres/inbox-listener.ts'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { eventually } from '../../helpers.ts'
import { listening, proxied, sql, testDatabase } from './postgres-fixture.ts'

/**
 * A listener on `url` (waiting `reconnectMs` before it connects again, when given), counting what
 * it tells, its tries to connect (when each began) and those refused; closed (with its database) at
 * the end of the test.
 */
function listen(t: Test, url: string, reconnectMs?: number) {
  const db = new PostgresDatabase({ connectionString: url })
  let told = 0
  const tries: number[] = []
  let refused = 0
  // Each try is a new client of the database's: its connect is watched.
  const client = db.client.bind(db)
  db.client = () => {
    tries.push(performance.now())
    const made = client()
    const connect = made.connect.bind(made)
    made.connect = (() =>
      connect().catch((error: unknown) => {
        refused++
        throw error
      })) as typeof made.connect
    return made
  }
  const listener = new InboxListener(db, () => told++, reconnectMs)
  t.teardown(async () => {
    await listener.close()
    await db.pool.end()
  })
  return { listener, told: () => told, tries: () => tries.length, triedAt: () => [...tries], refused: () => refused }
}

const notify = (url: string) => sql(url, "SELECT pg_notify('b24_inbox', '')")

t.test('tells once it listens (what came before is claimable), then of every notification', async (t) => {
  const url = await testDatabase(t)
  const { told } = listen(t, url)
  await eventually(() => told() === 1)
  t.equal(await listening(url), 1, 'one connection of its own')
  await notify(url)
  await eventually(() => told() === 2)
  await notify(url)
  await eventually(() => told() === 3)
})

t.test('a lost connection is made again, a second later, and it tells then: what was announced meanwhile is not missed', async (t) => {
  const url = await testDatabase(t)
  const { told, tries, triedAt } = listen(t, url)
  await eventually(async () => (await listening(url)) === 1)
  const before = told()
  const lostAt = performance.now()
  await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN b24_inbox'")
  await eventually(async () => (await listening(url)) === 1 && told() > before)
  t.equal(tries(), 2, 'connected once more')
  // Less a millisecond or so: a timer counts from the start of the event-loop turn that set it.
  const waited = (triedAt()[1] as number) - lostAt
  t.ok(waited >= 990, `after a second: ${Math.round(waited)} ms after the connection was lost`)
  const again = told()
  await notify(url)
  await eventually(() => told() > again)
})

t.test('a database unreachable at start is tried again, a wait between tries, until it can be reached', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  proxy.cut()
  const { told, tries, triedAt, refused } = listen(t, through, 50)
  // Two tries more, each refused.
  await eventually(() => tries() >= 3 && refused() >= 3)
  t.equal(told(), 0, 'nothing to tell while it cannot listen')
  const at = triedAt()
  const gaps = at.slice(1).map((time, i) => time - (at[i] as number))
  t.ok(
    gaps.every((gap) => gap >= 45),
    `each try ${gaps.map((gap) => Math.round(gap)).join(', ')} ms after the one before (it waits 50 ms)`,
  )
  proxy.restore()
  await eventually(() => told() === 1)
  await notify(url)
  await eventually(() => told() === 2)
})

t.test('closed, it stops listening and connects no more; closing twice is fine', async (t) => {
  const url = await testDatabase(t)
  const { listener, told, tries } = listen(t, url)
  await eventually(() => told() === 1)
  await listener.close()
  await eventually(async () => (await listening(url)) === 0)
  await notify(url)
  await listener.close()
  t.equal(told(), 1)
  t.equal(tries(), 1)
})

t.test('closed while connecting, or while waiting to connect again, it connects no more', async (t) => {
  const url = await testDatabase(t)
  const connecting = listen(t, url, 50)
  await connecting.listener.close()

  const { proxy, url: through } = await proxied(t, url)
  proxy.cut()
  const waiting = listen(t, through, 50)
  // Waits as long between tries, and is never closed: what it does, the closed ones would have done.
  const witness = listen(t, through, 50)
  await eventually(() => waiting.refused() === 1)
  await waiting.listener.close()
  // Two tries of the witness after the close: the wait the closed one was in is over.
  const witnessed = witness.tries()
  await eventually(() => witness.tries() >= witnessed + 2)
  proxy.restore()
  await eventually(() => witness.told() === 1)
  t.equal(connecting.tries() + waiting.tries(), 2, 'no try after the first of each')
  t.equal(await listening(url), 1, 'only the witness listens')
  t.equal(connecting.told() + waiting.told(), 0)
})
