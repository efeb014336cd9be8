import t from 'tap'
import pg from 'pg'
import { MIGRATIONS } from '../../src/store/postgres/migrations.ts'
import { PREVIOUS_RELEASE, previousRelease } from '../install/previous-release.ts'
import { checkAcrossRestarts, messageBody, replicaSet, startLoad, waitForHandled } from './replica-fixture.ts'

// The previous release built once (a few seconds of tsc, then kept), three services under load.
t.setTimeout(240_000)

t.test(`a rolling upgrade on PostgreSQL from ${PREVIOUS_RELEASE.slice(0, 7)}: old and new replicas under load, then the old one stopped, every acknowledged event handled once`, async (t) => {
  const built = performance.now()
  const previous = await previousRelease()
  t.comment(`previous release ready in ${Math.round(performance.now() - built)} ms`)
  const set = await replicaSet(t)
  // Before the upgrade: two replicas of the previous release, its schema.
  await Promise.all([set.start(0, previous), set.start(1, previous)])
  const client = new pg.Client({ connectionString: set.databaseUrl })
  await client.connect()
  t.teardown(() => client.end())
  const schema = async () => (await client.query<{ version: number }>('SELECT max(version) AS version FROM b24_migrations')).rows[0]?.version
  const old = await schema()
  t.ok(old !== undefined && old < MIGRATIONS.length, `the previous release's schema: version ${old} (this release's: ${MIGRATIONS.length})`)
  const load = startLoad(t, { targets: set.running, chats: 4, body: (chat, seq) => messageBody(chat, seq), gapMs: 10 })
  await load.moreAcknowledged(40, 'posts acknowledged by the previous release')
  // One replica at a time, as a rolling upgrade goes: the first new one migrates the schema while
  // the other old one goes on storing, claiming and completing under load.
  t.equal(await set.stop(0, 'SIGTERM'), 0, 'the first old replica stops cleanly')
  await set.start(0)
  await load.moreAcknowledged(40, 'posts acknowledged by one old and one new replica')
  t.equal(await set.stop(1, 'SIGTERM'), 0, 'the last old replica stops cleanly')
  await set.start(1)
  await load.moreAcknowledged(40, 'posts acknowledged by the new release alone')
  const posts = await load.stop()
  const lines = await waitForHandled(set.eventsFile, posts)
  checkAcrossRestarts(t, posts, lines)
  t.equal(await schema(), MIGRATIONS.length, "the schema is this release's")
})
