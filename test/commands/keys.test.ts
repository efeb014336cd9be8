import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { createReceiver } from '../../src/receiver/receiver.ts'
import { checkSealKey } from '../../src/seal/check-seal-key.ts'
import { createSealer } from '../../src/seal/sealer.ts'
import { samplePayload } from '../../src/simulate/sample-payload.ts'
import { openDatabase } from '../../src/store/sqlite/open-database.ts'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.ts'
import { SqliteSealedValues } from '../../src/store/sqlite/sqlite-sealed-values.ts'
import { PostgresDatabase } from '../../src/store/postgres/postgres-database.ts'
import { PostgresSealedValues } from '../../src/store/postgres/postgres-sealed-values.ts'
import type { SealedValues } from '../../src/store/sealed-values.ts'
import { postgresStore } from '../../src/store/postgres/postgres-store.ts'
import { openPostgresStore } from '../../src/store/postgres/open-postgres-store.ts'
import type { StoreFactory } from '../../src/store/store-factory.ts'
import type { Store } from '../../src/store/store.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { newRecord } from '../fakes/new-record.ts'
import { APP_TOKEN, captureLogs, eventually, runCommand, TEST_WORKER } from '../helpers.ts'
import { createLogger } from '../../src/log/create-logger.ts'
import { userEnv, watchChild } from '../serve-child.ts'
import { testDatabase } from '../store/postgres/postgres-fixture.ts'
import { portalRow } from '../store/store-contract.ts'
import { sqliteStore } from '../../src/store/sqlite/sqlite-store.ts'

// `b24-receiver keys rotate` on both stores: events stored under the old key are handled after the
// rotation by a receiver given the new key alone; replicas keep running through it; killed, it is
// run again and finishes; a replica given only the old key does not start once it is done.

t.setTimeout(120_000)

const OLD = '01'.repeat(32)
const NEW = '02'.repeat(32)
const oldSealer = createSealer(Buffer.from(OLD, 'hex'))
const newSealer = createSealer(Buffer.from(NEW, 'hex'))
const logger = createLogger({ level: 'silent' })
const FORM = 'application/x-www-form-urlencoded'

const message = (chatId: number, text: string) => encodeForm(samplePayload({ type: 'ONIMBOTV2MESSAGEADD', token: APP_TOKEN, chatId, text, ts: 1_800_000_000 }) as PhpValue)

/** `count` events stored through the door under OLD by a receiver that handles none of them. */
async function storedUnderOldKey(store: StoreFactory, count: number): Promise<void> {
  const receiver = createReceiver({ tokens: [APP_TOKEN], store, secretKey: OLD, logger, worker: { ...TEST_WORKER, concurrency: 0 } })
  await receiver.start()
  for (let i = 0; i < count; i++) if ((await receiver.handle({ body: message((i % 7) + 1, `m${i}`), contentType: FORM })).status !== 200) throw new Error('not stored')
  await receiver.close()
}

/** A receiver on `store` handling every event, what each handler was given kept. */
async function handling(t: Test, store: StoreFactory, secretKey: string, previousSecretKeys?: string[]) {
  const logs = captureLogs()
  const receiver = createReceiver({ tokens: [APP_TOKEN], store, secretKey, previousSecretKeys, logger: createLogger({ level: 'info' }, logs.stream), worker: TEST_WORKER })
  const handled: Array<{ text: string; token: string | undefined }> = []
  receiver.onAny((event, ctx) => void handled.push({ text: String((event.data as { message?: { text?: string } }).message?.text ?? ''), token: ctx.credentials.applicationToken }))
  await receiver.start()
  t.teardown(() => receiver.close())
  return { receiver, handled, logs }
}

const texts = (count: number) => Array.from({ length: count }, (_, i) => `m${i}`).sort()

t.test('SQLite: rotated with the service stopped; the events stored under the old key handled by the new key alone; the old key alone starts no more', async (t) => {
  const dataDir = t.testdir()
  await storedUnderOldKey(sqliteStore({ dataDir }), 12)
  // A portal of the application, its tokens sealed under the old key.
  const direct = openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 60000 })
  await (direct.portals as NonNullable<Store['portals']>).put(portalRow('p1', { tokens: oldSealer.seal('tokens p1') }))
  await direct.close()
  const env = { DATA_DIR: dataDir, B24_SECRET_KEY: NEW, B24_SECRET_KEY_PREVIOUS: `${'09'.repeat(32)},${OLD}` }
  const { code, out, err } = await runCommand(['keys', 'rotate', '--batch-size', '5'], { env })
  t.equal(err, '')
  t.equal(code, 0)
  t.match(out, /^pass 1: /, 'its progress')
  t.match(out, /\ninbox and dead letters \(credentials\): 24 looked at, 12 sealed again, 0 changed meanwhile \(left as a replica wrote them\), 0 opened by no key\n/)
  t.match(out, /\nportals \(tokens\): 2 looked at, 1 sealed again/)
  t.match(out, /\nsealed again under B24_SECRET_KEY: 13 value\(s\), in 2 passes\nthe store is sealed under B24_SECRET_KEY: B24_SECRET_KEY_PREVIOUS can be dropped/)
  const after = openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 60000 })
  t.equal(newSealer.open((await (after.portals as NonNullable<Store['portals']>).get('p1'))?.tokens as string), 'tokens p1')
  await after.close()

  const oldOnly = createReceiver({ tokens: [APP_TOKEN], dataDir, secretKey: OLD, logger, worker: TEST_WORKER })
  await t.rejects(oldOnly.start(), { name: 'ConfigError', message: /^secretKey is not the key that sealed the credentials in this store/ }, 'a replica given only the old key refuses to start')
  await oldOnly.close()
  const { handled } = await handling(t, sqliteStore({ dataDir }), NEW)
  await eventually(() => handled.length === 12)
  t.same(handled.map(({ text }) => text).sort(), texts(12))
  t.ok(handled.every(({ token }) => token === APP_TOKEN), 'each handler given its credentials, opened by the new key')
})

/** A store of either kind as the kill test uses it: opened, its sealed values read apart, and the environment the command is run with. */
interface KilledStore {
  open(): Store
  values(t: Test): SealedValues
  env: Record<string, string>
}

async function killedAndRunAgain(t: Test, kind: KilledStore): Promise<void> {
  const store = kind.open()
  await checkSealKey(store, oldSealer)
  const count = 3000
  await Promise.all(Array.from({ length: count }, (_, i) => store.append(newRecord(i, `m${i}`, { credentials: oldSealer.seal(`credentials ${i}`) }))))
  await store.close()
  const env = { ...kind.env, B24_SECRET_KEY: NEW, B24_SECRET_KEY_PREVIOUS: OLD }
  const bin = fileURLToPath(new URL('../../bin/dev.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', import.meta.resolve('../loader/register.mjs'), bin, 'keys', 'rotate', '--batch-size', '1'], { env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => void child.kill('SIGKILL'))
  const watched = watchChild(child, 'keys rotate')
  await watched.waitFor(/pass 1: inbox/, 60000)
  child.kill('SIGKILL')
  t.equal(await watched.exited, null, 'ended by the kill, not finished')

  const values = kind.values(t)
  const rotating = createSealer(Buffer.from(NEW, 'hex'), { previous: [Buffer.from(OLD, 'hex')] })
  const keyOfEach = (await values.page('inbox', null, count)).map(({ value }) => rotating.keyOf(value))
  const resealed = keyOfEach.filter((key) => key === 0).length
  t.equal(keyOfEach.length, count, 'every value there, none half-written (each opens with one key)')
  t.ok(resealed > 0 && resealed < count, `killed part way: ${resealed} of ${count} sealed again`)
  const { code, out } = await runCommand(['keys', 'rotate'], { env })
  t.equal(code, 0)
  t.match(out, new RegExp(`\\ninbox and dead letters \\(credentials\\): ${2 * count} looked at, ${count - resealed} sealed again,`), 'only what was left')
  for (const { value } of await values.page('inbox', null, count)) if (rotating.keyOf(value) !== 0) t.fail('a value left under the old key')
  const opened = kind.open()
  t.equal(await checkSealKey(opened, newSealer), 0)
  await opened.close()
}

t.test('SQLite: killed (kill -9) in the middle, run again: it finishes, every value under the new key', async (t) => {
  const dataDir = t.testdir()
  await killedAndRunAgain(t, {
    open: () => openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 60000 }),
    values: (t) => {
      const db = openDatabase(dataDir)
      t.teardown(() => db.close())
      return new SqliteSealedValues(db)
    },
    env: { DATA_DIR: dataDir },
  })
})

t.test('PostgreSQL: killed (kill -9) in the middle, run again: it finishes, every value under the new key', async (t) => {
  const url = await testDatabase(t)
  await killedAndRunAgain(t, {
    open: () => openPostgresStore({ connectionString: url }, 'test'),
    values: (t) => {
      const db = new PostgresDatabase({ connectionString: url })
      t.teardown(() => db.pool.end())
      return new PostgresSealedValues(db)
    },
    env: { DATABASE_URL: url },
  })
})

t.test('PostgreSQL: rotated while a replica given both keys handles events and stores new ones; each handled once, with its credentials', async (t) => {
  const url = await testDatabase(t)
  const events = 150
  await storedUnderOldKey(postgresStore({ connectionString: url }), events)
  const direct = openPostgresStore({ connectionString: url }, 'direct')
  await (direct.portals as NonNullable<Store['portals']>).put(portalRow('p1', { tokens: oldSealer.seal('tokens p1') }))
  const replica = await handling(t, postgresStore({ connectionString: url }), NEW, [OLD])
  t.equal(replica.logs.lines.filter((line) => /sealed under previous key 1 \(B24_SECRET_KEY_PREVIOUS\)/.test(line)).length, 1, 'said once at start')
  const env = { DATABASE_URL: url, B24_SECRET_KEY: NEW, B24_SECRET_KEY_PREVIOUS: OLD }
  const [rotation] = await Promise.all([
    runCommand(['keys', 'rotate', '--batch-size', '7'], { env }),
    (async () => {
      for (let i = events; i < events + 30; i++) t.equal((await replica.receiver.handle({ body: message(1, `m${i}`), contentType: FORM })).status, 200)
    })(),
  ])
  t.equal(rotation.err, '')
  t.equal(rotation.code, 0)
  t.match(rotation.out, /the store is sealed under B24_SECRET_KEY/)
  await eventually(() => replica.handled.length >= events + 30, 30000)
  t.same(replica.handled.map(({ text }) => text).sort(), texts(events + 30), 'each once')
  t.ok(replica.handled.every(({ token }) => token === APP_TOKEN))
  t.equal(newSealer.open((await (direct.portals as NonNullable<Store['portals']>).get('p1'))?.tokens as string), 'tokens p1', 'the portal’s tokens under the new key')
  t.equal(await checkSealKey(direct, newSealer), 0, 'the store is marked')
  await direct.close()
})

t.test('PostgreSQL: events stored under the old key and left pending, handled after the rotation by the new key alone', async (t) => {
  const url = await testDatabase(t)
  await storedUnderOldKey(postgresStore({ connectionString: url }), 20)
  const { code } = await runCommand(['keys', 'rotate'], { env: { DATABASE_URL: url, B24_SECRET_KEY: NEW, B24_SECRET_KEY_PREVIOUS: OLD } })
  t.equal(code, 0)
  const { handled } = await handling(t, postgresStore({ connectionString: url }), NEW)
  await eventually(() => handled.length === 20, 20000)
  t.ok(handled.every(({ token }) => token === APP_TOKEN))
})

t.test('usage, a missing key, a store no key opens, values left under an old key: one line each, exit 1 or 2', async (t) => {
  t.match(await runCommand(['keys']), { code: 1, err: 'b24-receiver keys: usage: b24-receiver keys rotate [--batch-size N]\n' })
  for (const args of [['--batch-size'], ['--batch-size', '0'], ['--batch-size', '1x'], ['--size', '5'], ['--batch-size', '5', 'more']]) {
    t.match(await runCommand(['keys', 'rotate', ...args]), { code: 1, err: /^b24-receiver keys: --batch-size takes 1 to 10000/ }, args.join(' '))
  }
  const dataDir = t.testdir()
  t.match(await runCommand(['keys', 'rotate'], { env: { DATA_DIR: dataDir } }), { code: 1, err: /^b24-receiver keys: keys rotate needs B24_SECRET_KEY, the new key/ })
  const store = openSqliteStore({ dataDir, durability: 'process', dedupWindowMs: 60000 })
  await checkSealKey(store, oldSealer)
  await store.append(newRecord(1, 'foreign', { credentials: createSealer(Buffer.alloc(32, 9)).seal('x') }))
  await store.close()
  t.match(await runCommand(['keys', 'rotate'], { env: { DATA_DIR: dataDir, B24_SECRET_KEY: NEW } }), { code: 1, err: /^b24-receiver keys: none of the keys given opens this store/ })
  const left = await runCommand(['keys', 'rotate'], { env: { DATA_DIR: dataDir, B24_SECRET_KEY: NEW, B24_SECRET_KEY_PREVIOUS: OLD } })
  t.equal(left.code, 1)
  t.match(left.err, /^b24-receiver keys: the store is not marked sealed under B24_SECRET_KEY, keep B24_SECRET_KEY_PREVIOUS: 1 value\(s\) open with none of the keys given/)
  t.notMatch(left.out, /can be dropped/)
})

t.test('PostgreSQL: a replica still running with only the old key after the rotation loses nothing: what it stored waits in the dead letter, sealed again by another rotation, then replayed', async (t) => {
  const url = await testDatabase(t)
  await storedUnderOldKey(postgresStore({ connectionString: url }), 3)
  const stale = createReceiver({ tokens: [APP_TOKEN], store: postgresStore({ connectionString: url }), secretKey: OLD, logger, worker: { ...TEST_WORKER, concurrency: 0 } })
  await stale.start()
  t.teardown(() => stale.close())
  const env = { DATABASE_URL: url, B24_SECRET_KEY: NEW, B24_SECRET_KEY_PREVIOUS: OLD }
  t.equal((await runCommand(['keys', 'rotate'], { env })).code, 0)
  // Not restarted, it still seals under the old key.
  t.equal((await stale.handle({ body: message(2, 'late'), contentType: FORM })).status, 200)
  const { receiver, handled } = await handling(t, postgresStore({ connectionString: url }), NEW)
  await eventually(async () => (await receiver.health()).inbox?.deadLetters === 1, 20000)
  t.same(handled.map(({ text }) => text).sort(), texts(3), 'the new key alone cannot open it: retried, then kept in the dead letter with its credentials')
  const again = await runCommand(['keys', 'rotate'], { env })
  t.equal(again.code, 0)
  t.match(again.out, /inbox and dead letters \(credentials\): \d+ looked at, 1 sealed again/)
  t.equal((await runCommand(['dlq', 'replay', '--all'], { env })).code, 0)
  await eventually(() => handled.length === 4, 20000)
  t.same(handled[3], { text: 'late', token: APP_TOKEN }, 'handled with its credentials')
})
