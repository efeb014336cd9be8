import { pino } from 'pino'
import t from 'tap'
import { ConfigError } from '../src/errors.ts'
import { createReceiver } from '../src/receiver/receiver.ts'
import { newReplicaId } from '../src/replica.ts'
import { postgresStore } from '../src/store/postgres/postgres-store.ts'
import { APP_TOKEN, eventually, readFixture, SECRET_KEY, TEST_WORKER } from './helpers.ts'
import { sql, testDatabase } from './store/postgres/postgres-fixture.ts'

const body = readFixture('bitrix/imbot_v2_message_add_webhook.body.txt').replaceAll('831c76b092f9f135d9b6b36c3a720757', APP_TOKEN)
const logger = pino({ level: 'silent' })

t.test('a replica name: host, pid and a random part, new each time', async (t) => {
  const name = newReplicaId()
  t.match(name, new RegExp(`^.+:${process.pid}:[0-9a-f]{8}$`))
  t.not(newReplicaId(), name)
})

t.test('a store that keeps no key file (PostgreSQL) needs secretKey, the same on every replica', async (t) => {
  const store = postgresStore({ connectionString: 'postgres://127.0.0.1:1/none' })
  t.throws(() => createReceiver({ tokens: [APP_TOKEN], store, logger }), new ConfigError('secretKey: this store (postgres) keeps no key file: give the key that seals credentials in it (B24_SECRET_KEY), the same on every replica'))
})

t.test('one name per receiver: /health says the name its claims, and its poller\'s lease, carry', async (t) => {
  const connectionString = await testDatabase(t)
  const receiver = createReceiver({
    tokens: [APP_TOKEN],
    store: postgresStore({ connectionString }),
    secretKey: SECRET_KEY,
    logger,
    worker: TEST_WORKER,
    // Nothing listens there: the poller only has to name itself.
    rest: { url: 'http://127.0.0.1:1/rest/1/s3cr3t/' },
    portalHosts: ['127.0.0.1'],
    poll: { mode: 'im', idleMs: 60000 },
  })
  let release = () => {}
  const holding = new Promise<void>((resolve) => (release = resolve))
  let started = false
  receiver.onAny(async () => {
    started = true
    await holding
  })
  await receiver.start()
  t.teardown(() => receiver.close())
  t.same(await receiver.handle({ body, contentType: 'application/x-www-form-urlencoded' }), { status: 200, body: { ok: true } })
  await eventually(() => started)
  const { replica, poller } = await receiver.health()
  t.match(replica, /^.+:\d+:[0-9a-f]{8}$/)
  t.same(await sql(connectionString, 'SELECT claimed_by FROM b24_inbox'), [{ claimed_by: replica }], 'the claim on the event in hand')
  t.equal(poller?.replica, replica, 'the poller holds its lease under the same name')
  release()
})
