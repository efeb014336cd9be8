import t from 'tap'
import { Credentials } from '../../src/event/credentials.ts'
import { polledArrival } from '../../src/door/arrival.ts'
import { createIngest } from '../../src/door/ingest.ts'
import { SealError, type Sealer } from '../../src/seal/sealer.ts'
import { StoreUnavailableError } from '../../src/store/store-unavailable-error.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { MEMBER_ID, MESSAGE, POLL_PORTAL, polledEvent, SEALER, secretsOf, TOKEN, webhookArrival, wireOf } from './arrivals.ts'

/** An ingest into a memory store, and the doors its observer was told of. */
const setup = () => {
  const store = new MemoryStore()
  const stored: string[] = []
  return { store, stored, ingest: createIngest(store, SEALER, { stored: (source) => void stored.push(source) }) }
}

t.test('stores the wire in line with its chat, its credentials sealed; tells it', async (t) => {
  const { store, stored: told, ingest } = setup()
  const arrival = webhookArrival()
  t.equal(await ingest.accept(arrival), undefined)
  t.equal(store.rows.length, 1)
  const [row] = store.rows
  t.match(row, { status: 'pending', attempts: 0, chatKey: `chat:${MEMBER_ID}:5`, type: 'ONIMBOTV2MESSAGEADD', source: 'webhook', portal: arrival.portal, bodyKind: 'form', body: arrival.body })
  const wire = wireOf(MESSAGE).split('&')
  const kept = wire.filter((pair) => !pair.startsWith('auth%5B') && !pair.startsWith('data%5Bbot%5D%5Bauth%5D'))
  t.ok(wire.length - kept.length >= 20, `${wire.length - kept.length} credential pairs in the wire`)
  t.equal(row?.body, kept.join('&'), 'the wire as it came, its credential pairs cut out')
  t.equal(SEALER.open(row?.credentials as string), arrival.credentials.serialize(), 'sealed: the key opens them')
  t.equal(Credentials.parse(SEALER.open(row?.credentials as string)).applicationToken, TOKEN)
  const stored = JSON.stringify(row)
  const secrets = secretsOf(arrival.credentials)
  t.ok(secrets.includes(TOKEN))
  for (const secret of secrets) t.notOk(stored.includes(secret), 'no token in clear in the stored row')
  t.same(told, ['webhook'])
})

t.test('a polled event alike, with no credentials; a JSON webhook as JSON', async (t) => {
  const { store, stored, ingest } = setup()
  const polled = polledEvent(7)
  await ingest.accept(polledArrival(polled, POLL_PORTAL))
  await ingest.accept(webhookArrival(undefined, 'json'))
  t.match(store.rows, [
    { status: 'pending', source: 'poll', type: 'ONIMV2MESSAGEADD', chatKey: 'chat:p.bitrix24.com:5', bodyKind: 'payload', body: JSON.stringify(polled), credentials: null },
    { status: 'pending', source: 'webhook', chatKey: `chat:${MEMBER_ID}:5`, bodyKind: 'payload', credentials: /^v1\./ },
  ])
  t.same(stored, ['poll', 'webhook'])
})

t.test('no decoding, no dedup: a double delivery and a malformed event are stored as they came', async (t) => {
  const { store, stored, ingest } = setup()
  await ingest.accept(webhookArrival())
  await ingest.accept(webhookArrival())
  await ingest.accept(polledArrival(42, POLL_PORTAL))
  t.equal(store.rows.length, 3, 'stored twice: the worker recognises the second')
  t.equal(store.rows[0]?.body, store.rows[1]?.body)
  t.not(store.rows[0]?.credentials, store.rows[1]?.credentials, 'each sealed afresh')
  t.match(store.rows[2], { status: 'pending', type: 'UNKNOWN', body: '{"value":42}', chatKey: 'solo:p.bitrix24.com:UNKNOWN' })
  t.equal(stored.length, 3)
})

t.test('a store that cannot keep it: StoreUnavailableError, nothing told', async (t) => {
  const { store, stored, ingest } = setup()
  await ingest.accept(webhookArrival())
  store.failing = true
  await t.rejects(ingest.accept(webhookArrival()), StoreUnavailableError)
  await t.rejects(ingest.accept(polledArrival(polledEvent(), POLL_PORTAL)), StoreUnavailableError)
  t.equal(store.rows.length, 1, 'only what was stored before')
  t.same(stored, ['webhook'], 'only what was stored is told')

  const fresh = setup()
  fresh.store.failing = true
  await t.rejects(fresh.ingest.accept(webhookArrival()), { name: 'StoreUnavailableError', message: 'the store cannot be written' })
  t.same(fresh.stored, [])
})

t.test('credentials that cannot be sealed are not stored at all', async (t) => {
  const store = new MemoryStore()
  const sealer: Sealer = {
    seal: () => {
      throw new SealError('cannot seal credentials')
    },
    open: (sealed) => sealed,
    digest: (text) => text,
  }
  const ingest = createIngest(store, sealer)
  await t.rejects(ingest.accept(webhookArrival()), SealError)
  t.same(store.rows, [])
  await ingest.accept(polledArrival(polledEvent(), POLL_PORTAL))
  t.equal(store.rows.length, 1, 'no credentials, nothing to seal')
})

t.test('an observer is told the door of each arrival once it is stored, of nothing that was not', async (t) => {
  const store = new MemoryStore()
  const stored: string[] = []
  const ingest = createIngest(store, SEALER, { stored: (source) => void stored.push(`${source}:${store.rows.length}`) })
  await ingest.accept(webhookArrival())
  await ingest.accept(polledArrival(polledEvent(), POLL_PORTAL))
  store.failing = true
  await t.rejects(ingest.accept(webhookArrival()), StoreUnavailableError)
  t.same(stored, ['webhook:1', 'poll:2'], 'told after the commit')
})

t.test('accepted only once the store says it is committed, however long that takes', async (t) => {
  const { store, stored, ingest } = setup()
  // A store whose commit takes as long as the test says.
  let commit = () => {}
  const committed = new Promise<void>((resolve) => (commit = resolve))
  const append = store.append.bind(store)
  store.append = async (record) => {
    await committed
    return append(record)
  }
  let accepted = false
  const accepting = ingest.accept(webhookArrival()).then(() => (accepted = true))
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve))
  t.notOk(accepted, 'not accepted while the commit is under way')
  t.same(stored, [], 'nothing told yet')
  commit()
  await accepting
  t.ok(accepted, 'accepted once committed')
  t.equal(store.rows.length, 1)
  t.same(stored, ['webhook'])
})
