import t, { type Test } from 'tap'
import { polledArrival } from '../../src/door/arrival.ts'
import { decodeRecord, openCredentials } from '../../src/worker/decode-record.ts'
import { createIngest } from '../../src/door/ingest.ts'
import { arrivalRecord } from '../../src/door/arrival-record.ts'
import { replayDeadLetter } from '../../src/worker/replay-dead-letter.ts'
import { createLogger } from '../../src/log/create-logger.ts'
import { createDispatch } from '../../src/worker/create-dispatch.ts'
import { Router } from '../../src/router/router.ts'
import type { ClaimedRecord } from '../../src/store/store.ts'
import type { FormLimits } from '../../src/wire/parse-form.ts'
import { Undeliverable } from '../../src/worker/worker.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { unclaimed } from '../fakes/new-record.ts'
import { MESSAGE, POLL_PORTAL, polledEvent, SEALER, TOKEN, webhookArrival, wireOf } from '../door/arrivals.ts'

/** A store, its ingest, and the step the worker takes with the oldest pending record: dispatch it, and bury it when it does not decode. */
function setup(t: Test, formLimits?: Partial<FormLimits>) {
  const store = new MemoryStore()
  const ingest = createIngest(store, SEALER)
  const dispatch = createDispatch({ router: new Router(), sinks: [], logger: createLogger({ level: 'silent' }), handlerTimeoutMs: 1000, sealer: SEALER, formLimits, seen: (key) => store.queue.seen(key) })
  /** Dispatches the next record as the worker would; it must not decode. Its id and the reason it was buried with. */
  const undeliverable = async () => {
    const [record] = (await store.queue.claim(1)) as [ClaimedRecord]
    const error = await dispatch(record, 1, record.lost).then(
      () => t.fail('it decodes'),
      (thrown: unknown) => thrown,
    )
    t.type(error, Undeliverable)
    await store.queue.bury(record, 1, (error as Error).message)
    return { id: record.id, reason: (error as Error).message }
  }
  return { store, ingest, undeliverable }
}

const rowOf = (store: MemoryStore, id: number) => store.rows.find((row) => row.id === id)

/** Buries record `id`, the next one claimed, as the worker does: claimed first. */
async function buryNext(store: MemoryStore, id: number, attempts: number, error: string) {
  const [claimed] = (await store.queue.claim(1)) as [ClaimedRecord]
  if (claimed.id !== id) throw new Error(`record ${claimed.id} claimed, not ${id}`)
  await store.queue.bury(claimed, attempts, error)
}

t.test('no dead letter with that id: nothing replayed, and why', async (t) => {
  const { store, ingest } = setup(t)
  t.same(await replayDeadLetter(store, 99), { id: 99, replayed: false, reason: 'no dead letter with this id' })
  await ingest.accept(webhookArrival())
  const pending = { ...rowOf(store, 1) }
  t.same(await replayDeadLetter(store, 1), { id: 1, replayed: false, reason: 'no dead letter with this id' }, 'a pending record is no dead letter')
  t.same(rowOf(store, 1), pending, 'and is left as it was')
})

t.test('one that still fails to decode stays dead, and the replay says why', async (t) => {
  const { store, ingest, undeliverable } = setup(t)
  // A real message whose id is no number.
  const body = wireOf(MESSAGE).replace('data%5Bmessage%5D%5Bid%5D=789', 'data%5Bmessage%5D%5Bid%5D=abc')
  await ingest.accept(webhookArrival(MESSAGE, 'form', body))
  await ingest.accept(polledArrival(42, POLL_PORTAL))
  const offSchema = await undeliverable()
  const noEvent = await undeliverable()
  t.match(offSchema.reason, /^ONIMBOTV2MESSAGEADD does not match its schema: \/data\/message\/id/)
  t.match(noEvent.reason, /^not a polled event/)
  const dead = await store.deadLetters.list()
  t.same(await replayDeadLetter(store, offSchema.id), { id: offSchema.id, replayed: false, reason: offSchema.reason })
  t.same(await replayDeadLetter(store, noEvent.id), { id: noEvent.id, replayed: false, reason: noEvent.reason })
  t.same(await store.deadLetters.list(), dead, 'both still dead, as they were')
  t.same(await store.queue.claim(10), [])
})

t.test('a form past the limits is stored, dead-lettered by the worker, and revived once the limits are raised', async (t) => {
  const { store, ingest, undeliverable } = setup(t, { maxPairs: 10 })
  const arrival = webhookArrival()
  await ingest.accept(arrival)
  const pairs = arrival.body.split('&').length
  t.ok(pairs > 10 && pairs < 100, `${pairs} pairs`)
  const { id, reason } = await undeliverable()
  t.equal(reason, 'more than 10 form fields')
  const sealed = rowOf(store, id)?.credentials

  t.same(await replayDeadLetter(store, id, { maxPairs: 10 }), { id, replayed: false, reason }, 'the same limits: still dead')
  t.same(await replayDeadLetter(store, id, { maxPairs: pairs - 1 }), { id, replayed: false, reason: `more than ${pairs - 1} form fields` })
  t.match(rowOf(store, id), { status: 'dead', attempts: 1, error: reason })

  t.same(await replayDeadLetter(store, id, { maxPairs: 100 }), { id, replayed: true }, 'the limits raised')
  t.match(rowOf(store, id), { status: 'pending', attempts: 0, error: null })
  const [record] = await store.queue.claim(10)
  t.match(record, { id, attempts: 0, bodyKind: 'form', body: arrival.body, type: 'ONIMBOTV2MESSAGEADD', source: 'webhook' })
  t.equal(record?.credentials, sealed, 'its credentials as they were stored, still sealed')
  const inbound = decodeRecord(record as ClaimedRecord, openCredentials(record as ClaimedRecord, SEALER), { maxPairs: 100 })
  t.match(inbound.event, { type: 'ONIMBOTV2MESSAGEADD', data: { message: { id: 789, text: 'Hello bot!' } } }, 'a worker with those limits decodes it')
  t.equal(inbound.delivery.credentials.applicationToken, TOKEN)
})

t.test('a dead letter that failed its handlers (it decodes) goes back in line as it was', async (t) => {
  const { store, ingest } = setup(t)
  await ingest.accept(webhookArrival())
  await ingest.accept(polledArrival(polledEvent(11), POLL_PORTAL))
  for (const id of [1, 2]) {
    const [claimed] = (await store.queue.claim(1)) as [ClaimedRecord]
    t.equal(claimed.id, id)
    await store.queue.bury(claimed, 5, 'HandlersFailedError: Error: the handler is down')
    t.same(await replayDeadLetter(store, id), { id, replayed: true })
    t.match(rowOf(store, id), { status: 'pending', attempts: 0, error: null })
    const [again] = (await store.queue.claim(1)) as [ClaimedRecord]
    t.same(unclaimed(again), { ...unclaimed(claimed), attempts: 0 }, 'its body, chat and credentials as they were; attempts reset')
    await store.queue.complete(again, null)
  }
  t.same(await store.deadLetters.list(), [])
})

t.test('whether it decodes is decided by its data alone: its credentials stay sealed', async (t) => {
  const { store } = setup(t)
  // Sealed with another key: the replay never opens them (the worker will, and retry if it cannot).
  const record = arrivalRecord(webhookArrival(), { seal: () => 'v1.sealed-with-another-key', open: () => t.fail('opened') as never, digest: () => t.fail('no digest') as never })
  await store.append(record)
  await buryNext(store, 1, 1, 'SealError: cannot open sealed credentials')
  t.same(await replayDeadLetter(store, 1), { id: 1, replayed: true })
  t.match(rowOf(store, 1), { status: 'pending', credentials: 'v1.sealed-with-another-key' })
})

t.test('a legacy decoded event is revived; what is not a decoding failure is thrown, the letter left dead', async (t) => {
  const { store } = setup(t)
  const legacy = arrivalRecord(polledArrival(polledEvent(12), POLL_PORTAL), SEALER)
  await store.append({ ...legacy, bodyKind: 'event', body: JSON.stringify(polledEvent(12)) })
  await buryNext(store, 1, 3, 'HandlersFailedError: down')
  t.same(await replayDeadLetter(store, 1), { id: 1, replayed: true })

  await store.append({ ...legacy, body: '{"eventId": 13, "type": ' })
  // Its chat's revived head handled first: then it is claimed, and buried.
  const [revived] = (await store.queue.claim(1)) as [ClaimedRecord]
  await store.queue.complete(revived, null)
  await buryNext(store, 2, 1, 'damaged on disk')
  t.match(await replayDeadLetter(store, 2), { id: 2, replayed: false, reason: /JSON/ }, 'no decoder can read it: said, not thrown')
  t.match(rowOf(store, 2), { status: 'dead', error: 'damaged on disk' })
})
