import { existsSync } from 'node:fs'
import t from 'tap'
import { POLL_LEASE_MS } from '../../src/poll/poller.ts'
import { samplePayload } from '../../src/simulate/sample-payload.ts'
import { FakeBitrix } from '../fakes/fake-portal.ts'
import { APP_TOKEN } from '../helpers.ts'
import { sql } from '../store/postgres/postgres-fixture.ts'
import { health, messageText, readHandled, replicaSet, waitUntil } from './replica-fixture.ts'

// Two services started through tsx and a poll lease waited out (6 s): tens of seconds on a busy machine.
t.setTimeout(180_000)

// A message in `chat` as `im.v2.Event.get` returns its data (the sample payload of `b24-receiver simulate`).
const polledMessage = (chat: number, seq: number) => {
  const data = samplePayload({ type: 'ONIMV2MESSAGEADD', token: APP_TOKEN, chatId: chat, text: messageText(chat, seq) }).data as { message: { id: number } }
  data.message.id = chat * 100_000 + seq
  return data
}

t.test('the reading replica killed: the other takes the queue over within 10 s, no event lost, no offset confirmed before its batch is stored', async (t) => {
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  fake.subscribe()
  const limit = 7
  const chats = 6
  const pushed = new Map<number, { chat: number; seq: number }>()
  const push = (from: number, to: number) => {
    for (let seq = from; seq < to; seq++) for (let chat = 1; chat <= chats; chat++) pushed.set(fake.pushUserEvent('ONIMV2MESSAGEADD', polledMessage(chat, seq)) as number, { chat, seq })
  }
  push(0, 10)
  const firstId = Math.min(...pushed.keys())

  // Each Event.get confirms (deletes at Bitrix24) the events below its offset: at that moment every
  // one of them must be in the inbox, or handled already (EVENTS_FILE). The check runs as the call
  // arrives, before the fake applies it.
  const set = await replicaSet(t, {
    B24_POLL: 'im', B24_REST_URL: fake.webhookUrl, B24_POLL_LIMIT: String(limit), B24_POLL_BUSY_MS: '5', B24_POLL_IDLE_MS: '20', B24_REST_TIMEOUT_MS: '1000',
  })
  const confirmed = new Set<number>()
  const unstoredWhenConfirmed: number[] = []
  fake.onCall(async (call) => {
    if (call.method !== 'im.v2.Event.get' || typeof call.params.offset !== 'number') return
    const offset = call.params.offset
    const confirming = [...pushed.keys()].filter((id) => id < offset && !confirmed.has(id))
    if (confirming.length === 0) return
    const rows = await sql<{ body: string }>(set.databaseUrl, 'SELECT body FROM b24_inbox')
    const stored = new Set(rows.map((row) => Number(/"eventId":(\d+)/.exec(row.body)?.[1])))
    // Read after the inbox: an event deleted from it meanwhile was written to the file before.
    const handled = new Set(existsSync(set.eventsFile) ? readHandled(set.eventsFile).map((line) => line.event.eventId) : [])
    for (const id of confirming) {
      confirmed.add(id)
      if (!stored.has(id) && !handled.has(id)) unstoredWhenConfirmed.push(id)
    }
  })
  // After five pages every answer is held (it takes effect at the portal, its client times out):
  // the reader is killed while it retries, with the rest still waiting at Bitrix24.
  const pages = 5
  let holding = false
  fake.onCall((call) => {
    if (holding || call.method !== 'im.v2.Event.get' || !((call.params.offset as number) >= firstId + pages * limit)) return
    fake.inject('im.v2.Event.get', { hold: true }, 1000)
    holding = true
  })

  await Promise.all([set.start(0), set.start(1)])

  // /health names the queue's reader; the other replica stands by and names it too.
  let states: Array<NonNullable<Awaited<ReturnType<typeof health>>['poller']>> = []
  await waitUntil(
    async () => {
      states = await Promise.all(set.replicas.map(async (replica) => (await health(replica.url)).poller as (typeof states)[number]))
      return holding && states.some((state) => state.reader === state.replica) && states.every((state) => state.reader !== null)
    },
    30000,
    'one replica reading, the other standing by',
  )
  const readerIndex = states.findIndex((state) => state.reader === state.replica)
  const standbyIndex = 1 - readerIndex
  t.equal(states[standbyIndex]?.state, 'standby', 'the other replica stands by')
  t.equal(states[standbyIndex]?.reader, states[readerIndex]?.replica, 'and names the reader')
  await waitUntil(() => fake.held().length > 0, 15000, 'the reader waiting on a held answer')

  t.equal(await set.stop(readerIndex, 'SIGKILL'), null, 'the reader killed')
  // Dead by now: every call from here on is the other replica's.
  const killedAt = Date.now()
  // The lease as the reader left it (the other replica cannot take it before it runs out).
  const [lease] = await sql<{ owner: string; expires: string }>(set.databaseUrl, "SELECT owner, expires_at AS expires FROM b24_leases WHERE name LIKE 'poll:%'")
  const expiresAt = Number(lease?.expires)
  t.equal(lease?.owner, states[readerIndex]?.replica, "the dead reader's lease")
  t.ok(expiresAt - killedAt <= POLL_LEASE_MS, `it runs out ${expiresAt - killedAt} ms after the death, within the lease's ${POLL_LEASE_MS} ms`)
  fake.clearFaults()
  const waiting = fake.unconfirmed('user').length
  t.ok(waiting > 0, `${waiting} events still wait at Bitrix24`)
  push(10, 20) // and more arrive meanwhile

  const survivor = set.replicas[standbyIndex] as (typeof set.replicas)[number]
  await waitUntil(() => fake.calls.some((call) => call.method === 'im.v2.Event.get' && call.at > killedAt), 15000, 'the other replica polling')
  const takenAt = fake.calls.find((call) => call.method === 'im.v2.Event.get' && call.at > killedAt)?.at as number
  t.ok(takenAt >= expiresAt, 'the other replica polls only once the lease has run out')
  // It tries for the lease every third of it (2 s): a busy machine may make that try late, by a
  // moment. In all, within 10 s of the death.
  t.ok(takenAt - expiresAt < POLL_LEASE_MS / 3 + 2000, `it polls ${takenAt - expiresAt} ms after the lease ran out, ${takenAt - killedAt} ms after the death`)
  const state = (await health(survivor.url)).poller
  t.equal(state?.reader, state?.replica, '/health names it the reader')

  await waitUntil(() => fake.unconfirmed('user').length === 0 && readHandled(set.eventsFile).length >= pushed.size, 30000, 'every event handled and confirmed')
  const ids = readHandled(set.eventsFile).map((line) => line.event.eventId as number)
  t.same([...ids].sort((a, b) => a - b), [...pushed.keys()], 'every polled event handled once')
  for (let chat = 1; chat <= chats; chat++) {
    const order = ids.map((id) => pushed.get(id)).filter((event) => event?.chat === chat).map((event) => event?.seq)
    t.same(order, [...order].sort((a, b) => (a as number) - (b as number)), `chat ${chat} in order`)
  }
  t.equal(confirmed.size, pushed.size, 'every event was confirmed')
  t.same(unstoredWhenConfirmed, [], 'none before it was stored')
})
