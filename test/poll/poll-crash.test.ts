import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { FakeBitrix } from '../fakes/fake-portal.ts'
import { eventually } from '../helpers.ts'
import { serveChild } from '../serve-child.ts'

// Two services started through tsx, ~240 events through a kill: 20-30 s alone, more on a busy
// machine, past tap's default 30 s per file.
t.setTimeout(120_000)

const message = (chatId: number, seq: number) => ({
  message: { id: chatId * 1000 + seq, chatId, authorId: 1, date: '2026-11-24T10:00:00+00:00', text: `chat ${chatId} message ${seq}`, isSystem: false, uuid: '', forward: null, params: {}, viewedByOthers: false },
  chat: { id: chatId, dialogId: `chat${chatId}`, type: 'chat', name: `Chat ${chatId}`, entityType: '', owner: 1, avatar: '', color: '#ab7761' },
  user: { id: 1, active: true, name: 'John Smith', firstName: 'John', lastName: 'Smith', workPosition: '', color: '#df532d', avatar: '', gender: 'M', birthday: '', extranet: false, bot: false, connector: false, externalAuthId: 'default', status: 'online', idle: false, lastActivityDate: '2026-11-24T10:00:00+00:00', absent: false, departments: [1], phones: false, type: 'user', website: '', email: '' },
  language: 'en',
})

t.test('SIGKILL while polling: after a restart every event is handled once, in chat order, and confirmed', async (t) => {
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  fake.subscribe()
  const dir = t.testdir({})
  const eventsFile = join(dir, 'events.jsonl')
  const limit = 7
  const env = {
    PORT: '0', DATA_DIR: join(dir, 'data'), EVENTS_FILE: eventsFile, LOG_LEVEL: 'info', WORKER_CONCURRENCY: '2',
    B24_POLL: 'im', B24_REST_URL: fake.webhookUrl, B24_POLL_LIMIT: String(limit), B24_POLL_BUSY_MS: '5', B24_POLL_IDLE_MS: '20', B24_REST_TIMEOUT_MS: '500',
  }
  const chats = 6
  const perChat = 40
  const pushed = new Map<number, string>()
  const push = (from: number, to: number) => {
    for (let seq = from; seq < to; seq++) for (let chat = 1; chat <= chats; chat++) pushed.set(fake.pushUserEvent('ONIMV2MESSAGEADD', message(chat, seq)) as number, `${chat}:${seq}`)
  }
  const handled = () =>
    existsSync(eventsFile)
      ? readFileSync(eventsFile, 'utf8').split('\n').slice(0, -1).map((line) => (JSON.parse(line) as { event: { eventId: number } }).event.eventId)
      : []
  push(0, perChat / 2)
  // Faults on the way: the poller must get through them before and after the kill. A held answer
  // takes effect at the portal but never comes back: the REST timeout ends the call.
  fake.inject('im.v2.Event.get', { status: 503, error: 'QUERY_LIMIT_EXCEEDED' })
  fake.inject('im.v2.Event.get', { hold: true })
  // Then five pages go through (35 events, stored), and from the call that confirms them on every
  // answer is held: the kill comes with the rest still waiting at Bitrix24, whatever the timing.
  const pages = 5
  const firstId = Math.min(...pushed.keys())
  let holding = false
  fake.onCall((call) => {
    if (holding || call.method !== 'im.v2.Event.get' || !((call.params.offset as number) >= firstId + pages * limit)) return
    fake.inject('im.v2.Event.get', { hold: true }, 1000) // this call's answer too
    holding = true
  })

  const first = await serveChild(env)
  t.teardown(() => void first.child.kill('SIGKILL'))
  await eventually(() => holding && handled().length >= 30, 40000)
  first.child.kill('SIGKILL')
  await first.exited
  const beforeKill = handled().length
  t.ok(beforeKill >= 30 && beforeKill <= pages * limit, `${beforeKill} of ${pushed.size} handled before the kill`)
  t.equal(fake.unconfirmed('user').length, pushed.size - pages * limit, 'the rest wait at Bitrix24')

  fake.clearFaults()
  push(perChat / 2, perChat) // more events wait at Bitrix24 while the service is down
  fake.inject('im.v2.Event.get', { status: 500, error: 'INTERNAL_SERVER_ERROR' })
  const second = await serveChild(env)
  t.teardown(() => void second.child.kill('SIGKILL'))
  await eventually(() => handled().length >= pushed.size && fake.unconfirmed('user').length === 0, 40000)
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0, 'stops cleanly')
  // The killed service held the queue's lease: the restart takes it at once (its holder is
  // gone) instead of waiting for it to expire.
  t.notMatch(second.output(), /another poller reads/, 'the lease of the killed service is not waited out')

  const ids = handled()
  t.same([...ids].sort((a, b) => a - b), [...pushed.keys()], 'every event handled once, with its eventId')
  for (let chat = 1; chat <= chats; chat++) {
    const order = ids.map((id) => pushed.get(id) as string).filter((label) => label.startsWith(`${chat}:`)).map((label) => Number(label.split(':')[1]))
    t.same(order, [...order].sort((a, b) => a - b), `chat ${chat} in order`)
  }
  t.same(fake.unconfirmed('user'), [], 'all confirmed at Bitrix24')
})
