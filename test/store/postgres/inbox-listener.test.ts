import t, { type Test } from 'tap'
import { InboxListener } from '../../../src/store/postgres/inbox-listener.ts'
import { PostgresDatabase } from '../../../src/store/postgres/postgres-database.ts'
import { eventually } from '../../helpers.ts'
import { listening, proxied, sql, testDatabase } from './postgres-fixture.ts'

/** A listener on `url`, counting what it tells; closed (with its database) at the end of the test. */
function listen(t: Test, url: string) {
  const db = new PostgresDatabase({ connectionString: url })
  let told = 0
  const listener = new InboxListener(db, () => told++)
  t.teardown(async () => {
    await listener.close()
    await db.pool.end()
  })
  return { listener, told: () => told }
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

t.test('a lost connection is made again, and it tells then: what was announced meanwhile is not missed', async (t) => {
  const url = await testDatabase(t)
  const { told } = listen(t, url)
  await eventually(async () => (await listening(url)) === 1)
  const before = told()
  await sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN b24_inbox'")
  await eventually(async () => (await listening(url)) === 1 && told() > before, 5000)
  t.pass('listening again, and said so')
  const again = told()
  await notify(url)
  await eventually(() => told() > again)
})

t.test('a database unreachable at start is tried again every second until it can be reached', async (t) => {
  const url = await testDatabase(t)
  const { proxy, url: through } = await proxied(t, url)
  proxy.cut()
  const { told } = listen(t, through)
  await eventually(() => proxy.connections === 0)
  const cutAt = Date.now()
  // A retry or two are refused meanwhile.
  await eventually(() => Date.now() - cutAt > 1500, 3000)
  t.equal(told(), 0, 'nothing to tell while it cannot listen')
  proxy.restore()
  await eventually(() => told() === 1, 3000)
  await notify(url)
  await eventually(() => told() === 2)
})

t.test('closed, it stops listening and connects no more; closing twice is fine', async (t) => {
  const url = await testDatabase(t)
  const { listener, told } = listen(t, url)
  await eventually(() => told() === 1)
  await listener.close()
  await eventually(async () => (await listening(url)) === 0)
  await notify(url)
  await listener.close()
  t.equal(told(), 1)
})

t.test('closed while connecting, or while waiting to connect again, it connects no more', async (t) => {
  const url = await testDatabase(t)
  const connecting = listen(t, url)
  await connecting.listener.close()

  const { proxy, url: through } = await proxied(t, url)
  proxy.cut()
  const waiting = listen(t, through)
  await eventually(() => proxy.connections === 0)
  await waiting.listener.close()
  proxy.restore()
  // Past the second its next attempt would have come.
  const closedAt = Date.now()
  await eventually(() => Date.now() - closedAt > 1300, 3000)
  t.equal(await listening(url), 0)
  t.equal(connecting.told() + waiting.told(), 0)
})
