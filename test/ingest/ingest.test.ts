import t from 'tap'
import { EnvelopeError, EventValidationError } from '../../src/errors.ts'
import { decodeArrival } from '../../src/ingest/arrival.ts'
import { createIngest } from '../../src/ingest/ingest.ts'
import { eventRecord } from '../../src/ingest/records.ts'
import { StoreUnavailableError } from '../../src/store/store-unavailable-error.ts'
import { FormParseError } from '../../src/wire/parse-form.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { invalidWebhookArrival, polledArrival, webhookArrival } from './arrivals.ts'

const setup = () => {
  const store = new MemoryStore()
  return { store, ingest: createIngest(store) }
}

t.test('stores a decoded event once, in line with its chat', async (t) => {
  const { store, ingest } = setup()
  t.same(ingest.counts(), { accepted: 0, duplicates: 0, rejected: 0, lastEventAt: null })
  const arrival = webhookArrival()
  const before = new Date().toISOString()
  t.equal(await ingest.accept(arrival), true)
  const { key, chatKey, body, credentials } = eventRecord(decodeArrival(arrival))
  t.match(store.rows, [{ status: 'pending', key, chatKey, body, credentials, type: 'ONIMBOTV2MESSAGEADD', bodyKind: 'event' }])
  const counts = ingest.counts()
  t.match(counts, { accepted: 1, duplicates: 0, rejected: 0 })
  t.ok((counts.lastEventAt as string) >= before && (counts.lastEventAt as string) <= new Date().toISOString())
  t.equal(await ingest.accept(polledArrival()), true, 'a polled event alike')
  t.match(store.rows, [{}, { status: 'pending', source: 'poll', key: 'poll:polled-member:7' }])
})

t.test('a double delivery is not stored again: false, and counted as a duplicate', async (t) => {
  const { store, ingest } = setup()
  const arrival = webhookArrival()
  await ingest.accept(arrival)
  const { lastEventAt } = ingest.counts()
  t.equal(await ingest.accept(webhookArrival()), false)
  t.equal(store.rows.length, 1)
  t.same(ingest.counts(), { accepted: 1, duplicates: 1, rejected: 0, lastEventAt })
})

t.test('an event off its schema is kept in the dead letter with its type and why, then its error thrown', async (t) => {
  const { store, ingest } = setup()
  const error = await ingest.accept(invalidWebhookArrival()).catch((thrown: unknown) => thrown)
  t.type(error, EventValidationError)
  t.match(error, { type: 'ONIMBOTV2MESSAGEADD', statusCode: 422, message: 'ONIMBOTV2MESSAGEADD does not match its schema: /data/message/id: must be integer' })
  t.match(store.rows, [{ status: 'dead', type: 'ONIMBOTV2MESSAGEADD', error: (error as Error).message, bodyKind: 'payload', source: 'webhook' }])
  t.match(ingest.counts(), { accepted: 0, rejected: 1, lastEventAt: null })
  await t.rejects(ingest.accept(invalidWebhookArrival()), EventValidationError, 'a double delivery is refused alike')
  t.equal(store.rows.length, 1, 'and kept once')
  t.match(ingest.counts(), { rejected: 1 })
})

t.test('a payload that is no event is kept with the type it names, else UNKNOWN', async (t) => {
  const { store, ingest } = setup()
  const arrival = webhookArrival()
  const { ts: _, ...noTs } = arrival.payload
  await t.rejects(ingest.accept({ ...arrival, payload: noTs }), EnvelopeError)
  const { event: __, ...noEvent } = arrival.payload
  await t.rejects(ingest.accept({ ...arrival, payload: noEvent }), { name: 'EnvelopeError', statusCode: 400, message: /^not a Bitrix24 event/ })
  const polled = polledArrival()
  const { eventId: ___, ...noId } = polled.payload
  await t.rejects(ingest.accept({ ...polled, payload: noId }), { name: 'EnvelopeError', message: /^not a polled event/ })
  t.match(store.inStatus('dead'), [
    { type: 'ONIMBOTV2MESSAGEADD', error: /^not a Bitrix24 event: .*ts/ },
    { type: 'UNKNOWN', error: /^not a Bitrix24 event: .*event/ },
    { type: 'ONIMV2MESSAGEADD', source: 'poll', error: /^not a polled event: .*eventId/ },
  ])
  t.match(ingest.counts(), { rejected: 3, accepted: 0 })
})

t.test('a form past the decoding limits is kept in the dead letter as it came, counted once', async (t) => {
  const { store, ingest } = setup()
  const { credentials, portal } = webhookArrival()
  const oversized = { source: 'webhook' as const, form: 'event=ONIMBOTV2MESSAGEADD&data%5Ba%5D=1', type: 'ONIMBOTV2MESSAGEADD', credentials, portal }
  const error = new FormParseError('the body has more than 1 pairs')
  t.equal(await ingest.keepOversized(oversized, error), undefined)
  await ingest.keepOversized(oversized, error)
  t.match(store.rows, [{ status: 'dead', bodyKind: 'form', body: oversized.form, type: 'ONIMBOTV2MESSAGEADD', error: error.message, credentials: credentials.serialize() }])
  t.equal(store.rows.length, 1, 'a double delivery kept once')
  t.same(ingest.counts(), { accepted: 0, duplicates: 0, rejected: 1, lastEventAt: null })
})

t.test('a store that cannot keep it: the error says so, nothing is counted', async (t) => {
  const { store, ingest } = setup()
  store.failing = true
  await t.rejects(ingest.accept(webhookArrival()), StoreUnavailableError)
  await t.rejects(ingest.accept(invalidWebhookArrival()), StoreUnavailableError, 'not the schema error: nothing was kept')
  const { credentials, portal } = webhookArrival()
  await t.rejects(ingest.keepOversized({ source: 'webhook', form: 'event=X', type: 'X', credentials, portal }, new FormParseError('too long')), StoreUnavailableError)
  t.same(store.rows, [])
  t.same(ingest.counts(), { accepted: 0, duplicates: 0, rejected: 0, lastEventAt: null })
})

t.test('what is not a decoding failure is no dead letter: it is thrown as it is', async (t) => {
  const { store, ingest } = setup()
  // A payload that cannot even be read (a bug upstream, not an event off its schema); each read fails anew.
  let reads = 0
  const arrival = webhookArrival()
  const payload = { ...arrival.payload }
  Object.defineProperty(payload, 'event', {
    enumerable: true,
    get: () => {
      throw new RangeError(`read ${++reads}`)
    },
  })
  await t.rejects(ingest.accept({ ...arrival, payload }), { name: 'RangeError', message: 'read 1' }, 'the first failure, untouched')
  t.same(store.rows, [])
  t.same(ingest.counts(), { accepted: 0, duplicates: 0, rejected: 0, lastEventAt: null })
})
