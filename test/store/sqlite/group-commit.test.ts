import t, { type Test } from 'tap'
import { GroupCommit } from '../../../src/store/sqlite/group-commit.ts'
import { openDatabase } from '../../../src/store/sqlite/open-database.ts'

/** A migrated database whose transactions are counted (each is one commit). */
function setup(t: Test) {
  const db = openDatabase(t.testdir())
  t.teardown(() => db.close())
  const counter = { commits: 0 }
  const transaction = db.transaction.bind(db)
  db.transaction = ((fn: () => unknown) => {
    counter.commits++
    return transaction(fn)
  }) as typeof db.transaction
  const insert = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)')
  const count = () => (db.prepare('SELECT COUNT(*) AS n FROM meta').get() as { n: number }).n
  return { db, writer: new GroupCommit(db), counter, insert, count }
}

t.test('writes of one event-loop turn go into one transaction, and each caller gets its result', async (t) => {
  const { writer, counter, insert, count } = setup(t)
  const keys = ['a', 'b', 'c', 'd', 'e']
  const written = keys.map((key) => writer.write(() => insert.run(key, 'x').changes + key))
  t.equal(count(), 0, 'nothing before the turn ends')
  t.same(await Promise.all(written), ['1a', '1b', '1c', '1d', '1e'])
  t.equal(counter.commits, 1, 'one commit for the five')
  t.equal(count(), 5)
  t.equal(await writer.write(() => insert.run('f', 'x').changes), 1)
  t.equal(counter.commits, 2, 'the next turn is the next commit')
  t.equal(writer.failure, null)
})

t.test('a full batch commits at once, without waiting for the turn to end', async (t) => {
  const { writer, counter, insert, count } = setup(t)
  const written = Array.from({ length: 130 }, (_, i) => writer.write(() => insert.run(`key ${i}`, 'x')))
  t.equal(counter.commits, 1)
  t.equal(count(), 128, 'the first 128 at once')
  await Promise.all(written)
  t.equal(counter.commits, 2)
  t.equal(count(), 130, 'the rest with the turn')
})

t.test('flush commits what is waiting now, and does nothing when nothing waits', async (t) => {
  const { writer, counter, insert, count } = setup(t)
  writer.flush()
  t.equal(counter.commits, 0)
  const written = writer.write(() => insert.run('a', 'x'))
  writer.flush()
  t.equal(count(), 1, 'committed before the turn ends')
  t.equal(counter.commits, 1)
  await written
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(counter.commits, 1, 'and not again at the end of the turn')
})

t.test('a failed commit rejects every write of its batch, keeps none of them, and says why until one goes through', async (t) => {
  const { writer, insert, count } = setup(t)
  const broken = new Error('disk I/O error')
  const good = writer.write(() => insert.run('good', 'x'))
  const bad = writer.write(() => {
    throw broken
  })
  const failure = { name: 'StoreUnavailableError', code: 'INBOX_UNAVAILABLE', statusCode: 503, message: 'the inbox cannot store events now', cause: broken }
  await t.rejects(good, failure)
  await t.rejects(bad, failure)
  t.equal(count(), 0, 'nothing of the batch was written')
  t.equal(writer.failure, broken)
  await writer.write(() => insert.run('later', 'x'))
  t.equal(writer.failure, null)
  t.equal(count(), 1)
})
