import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { SQLITE_DEFAULTS, sqliteStore } from '../../../src/store/sqlite/sqlite-store.ts'
import { newRecord } from '../../fakes/new-record.ts'
import { captureLogs, eventually } from '../../helpers.ts'

const context = { replica: 'replica-a', logger: pino({ level: 'silent' }) }

t.test('its defaults: ./data, process durability, a day of dedup, 30 days of dead letters; options left undefined keep them', async (t) => {
  t.same(SQLITE_DEFAULTS, { dataDir: './data', durability: 'process', dedupWindowMs: 86400000, deadLetterRetentionMs: 30 * 86400000, purges: true })
  t.match(sqliteStore(), { kind: 'sqlite', keyDir: './data' })
  t.equal(sqliteStore({ dataDir: undefined }).keyDir, './data')
  t.equal(sqliteStore({ dataDir: '/srv/b24' }).keyDir, '/srv/b24', 'the key file lives beside inbox.db')
})

t.test('opens the embedded store under dataDir, with the dedup window given', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  const store = sqliteStore({ dataDir, dedupWindowMs: 1, durability: 'power' }).open(context)
  t.teardown(() => store.close())
  await store.append(newRecord(1, 'hello'))
  const [claimed] = await store.queue.claim(10)
  await store.queue.complete(claimed!, 'key-1')
  await eventually(async () => !(await store.queue.seen('key-1')))
  t.pass('the key forgotten past its 1 ms window')
})

t.test('one that cannot open yet refuses events (503) and says why in the receiver\'s logger, to be tried again', async (t) => {
  const dataDir = join(t.testdir(), 'data')
  writeFileSync(dataDir, 'a file where the directory should be')
  const logs = captureLogs()
  const store = sqliteStore({ dataDir }).open({ ...context, logger: pino({ level: 'info' }, logs.stream) })
  t.teardown(() => store.close())
  t.match(store.unavailable(), /DATA_DIR/)
  await t.rejects(store.append(newRecord(1, 'x')), { name: 'StoreUnavailableError' })
  t.match(logs.text(), /events are refused with 503 until it is fixed/)
})
