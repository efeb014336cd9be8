import t from 'tap'
import { EventValidationError } from '../../src/errors.ts'
import { Credentials } from '../../src/event/credentials.ts'
import { decodeArrival } from '../../src/ingest/arrival.ts'
import { createIngest } from '../../src/ingest/ingest.ts'
import { eventRecord, rejectedRecord } from '../../src/ingest/records.ts'
import { replayDeadLetter } from '../../src/ingest/replay-dead-letter.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { FormParseError } from '../../src/wire/parse-form.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { invalidWebhookArrival, polledArrival, POLL_PORTAL, webhookArrival } from './arrivals.ts'

// A decoder fixed since: what failed then is kept as if it had failed, and decodes now.
const fixedSince = new EventValidationError('ONIMBOTV2MESSAGEADD', [{ path: '/data/message/id', message: 'must be integer' }])

t.test('no dead letter with that id: nothing replayed, and why', async (t) => {
  const store = new MemoryStore()
  t.same(await replayDeadLetter(store, 99), { id: 99, replayed: false, reason: 'no dead letter with this id' })
})

t.test('a dead letter that failed its handlers goes back in line as it was', async (t) => {
  const store = new MemoryStore()
  const record = eventRecord(decodeArrival(webhookArrival()))
  await store.append(record)
  const [claimed] = await store.queue.claim(10)
  await store.queue.bury(claimed?.id as number, 5, 'Error: handler down')
  t.same(await replayDeadLetter(store, claimed?.id as number), { id: claimed?.id, replayed: true })
  const [again] = await store.queue.claim(10)
  t.same(again, { ...claimed, attempts: 0 }, 'its body, chat and credentials as they were; attempts reset')
})

t.test('a webhook that failed its schema is decoded again from its stored payload and credentials', async (t) => {
  const store = new MemoryStore()
  const arrival = webhookArrival()
  await store.append(rejectedRecord(arrival, fixedSince))
  const [dead] = await store.deadLetters.list()
  t.same(await replayDeadLetter(store, dead?.id as number), { id: dead?.id, replayed: true })
  const [record] = await store.queue.claim(10)
  const expected = eventRecord(decodeArrival(arrival))
  t.match(record, { id: dead?.id, bodyKind: 'event', chatKey: expected.chatKey, attempts: 0, type: 'ONIMBOTV2MESSAGEADD' })
  t.equal(record?.chatKey, `chat:${arrival.portal.memberId}:5`, "in its chat's line: the portal read from its credentials")
  t.same(JSON.parse(record?.body as string), JSON.parse(expected.body), 'the event as decoded on arrival')
  const credentials = Credentials.parse(record?.credentials as string)
  t.same(credentials.bot, arrival.credentials.bot, "the bot's credentials come back with it")
  t.same(credentials.auth, arrival.credentials.auth)
})

t.test('a form kept for its size is parsed again with the limits given, then decoded with its stored credentials', async (t) => {
  const store = new MemoryStore()
  const arrival = webhookArrival()
  // The body as the door keeps it: its credential pairs cut out.
  const { auth: _, data, ...rest } = arrival.payload as { auth: unknown; data: { bot: { auth: unknown } } }
  const { auth: __, ...bot } = data.bot
  const form = encodeForm({ ...rest, data: { ...data, bot } } as PhpValue)
  t.notOk(form.includes('access_token'))
  const { credentials, portal } = arrival
  await createIngest(store).keepOversized({ source: 'webhook', form, type: arrival.payload.event, credentials, portal }, new FormParseError('too many pairs'))
  const [dead] = await store.deadLetters.list()
  const id = dead?.id as number
  t.match(dead, { bodyKind: 'form', body: form, type: 'ONIMBOTV2MESSAGEADD' })

  const still = await replayDeadLetter(store, id, { maxPairs: 5 })
  t.match(still, { id, replayed: false, reason: /5/ }, 'past the limits given: still dead')
  t.same(await store.queue.claim(10), [])
  t.same(await replayDeadLetter(store, id, { maxPairs: 1000 }), { id, replayed: true }, 'the limit raised')
  const [record] = await store.queue.claim(10)
  const expected = eventRecord(decodeArrival(arrival))
  t.match(record, { id, bodyKind: 'event', chatKey: expected.chatKey, source: 'webhook' })
  t.same(JSON.parse(record?.body as string), JSON.parse(expected.body), 'the event as a decoder with room enough reads it')
  t.same(Credentials.parse(record?.credentials as string).bot, arrival.credentials.bot, "the bot's credentials come back with it")
})

t.test('a polled event that failed is decoded again as a polled event', async (t) => {
  const store = new MemoryStore()
  const arrival = polledArrival(11)
  await store.append(rejectedRecord(arrival, fixedSince))
  const [dead] = await store.deadLetters.list()
  t.same(await replayDeadLetter(store, dead?.id as number), { id: dead?.id, replayed: true })
  const [record] = await store.queue.claim(10)
  t.match(record, { source: 'poll', portal: POLL_PORTAL, bodyKind: 'event', chatKey: 'chat:polled-member:5' })
  t.match(JSON.parse(record?.body as string), { eventId: 11, type: 'ONIMV2MESSAGEADD', data: { message: { id: 5012 } } })
})

t.test('one that still fails to decode stays dead, and the replay says why', async (t) => {
  const store = new MemoryStore()
  await createIngest(store)
    .accept(invalidWebhookArrival())
    .catch(() => undefined)
  const polled = polledArrival()
  const { date: _, ...noDate } = polled.payload
  await store.append(rejectedRecord({ ...polled, payload: noDate }, fixedSince))
  const [schema, envelope] = await store.deadLetters.list()
  t.same(await replayDeadLetter(store, schema?.id as number), {
    id: schema?.id,
    replayed: false,
    reason: 'ONIMBOTV2MESSAGEADD does not match its schema: /data/message/id: must be integer',
  })
  t.match(await replayDeadLetter(store, envelope?.id as number), { id: envelope?.id, replayed: false, reason: /^not a polled event: .*date/ })
  t.same(await store.deadLetters.list(), [schema, envelope], 'both still dead, as they were')
  t.same(await store.queue.claim(10), [])
})
