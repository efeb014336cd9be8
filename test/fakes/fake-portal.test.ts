import t, { type Test } from 'tap'
import { eventually } from '../helpers.ts'
import { FakeBitrix } from './fake-portal.ts'

// The fake portal the poller is tested against must itself follow the docs.

async function start(t: Test, options?: Parameters<typeof FakeBitrix.start>[0]) {
  const fake = await FakeBitrix.start(options)
  t.teardown(() => fake.close())
  const call = async (method: string, params: Record<string, unknown> = {}, base = fake.webhookUrl) => {
    const response = await fetch(`${base}${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(params) })
    return { status: response.status, body: (await response.json()) as any }
  }
  return { fake, call }
}

t.test('records user events only after im.v2.Event.subscribe', async (t) => {
  const { fake, call } = await start(t)
  t.equal(fake.pushUserEvent('ONIMV2MESSAGEADD', {}), null)
  t.same((await call('im.v2.Event.get')).body.result, { events: [], nextOffset: 1001, hasMore: false }, 'not subscribed: empty')
  t.same((await call('im.v2.Event.subscribe.json')).body.result, true)
  t.equal(fake.pushUserEvent('ONIMV2MESSAGEADD', { n: 1 }), 1001)
})

t.test('pages with limit, hasMore and nextOffset; an offset confirms every event below it for good', async (t) => {
  const { fake, call } = await start(t)
  fake.subscribe()
  for (let n = 0; n < 5; n++) fake.pushUserEvent('ONIMV2MESSAGEADD', { n })
  const first = (await call('im.v2.Event.get', { limit: 2 })).body.result
  t.match(first, { events: [{ eventId: 1001, type: 'ONIMV2MESSAGEADD', date: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/, data: { n: 0 } }, { eventId: 1002 }], nextOffset: 1003, hasMore: true })
  t.same((await call('im.v2.Event.get', { limit: 2 })).body.result.nextOffset, 1003, 'unconfirmed: the same page again')
  const second = (await call('im.v2.Event.get', { limit: 2, offset: 1003 })).body.result
  t.match(second, { events: [{ eventId: 1003 }, { eventId: 1004 }], nextOffset: 1005, hasMore: true })
  t.same(fake.unconfirmed('user'), [1003, 1004, 1005])
  t.match((await call('im.v2.Event.get', { offset: 1006 })).body.result, { events: [], nextOffset: 1006, hasMore: false })
  t.same(fake.unconfirmed('user'), [])
  t.match(await call('im.v2.Event.get', { limit: 1001 }), { status: 400, body: { error: 'INVALID_LIMIT' } })
})

t.test('imbot.v2.Event.get: the bot queue, with user events merged in order; every documented error', async (t) => {
  const { fake, call } = await start(t, { foreignBotIds: [457] })
  const bot = { botId: 456, botToken: 'bot-token-456' }
  fake.pushBotEvent(456, 'ONIMBOTV2MESSAGEADD', {})
  t.match(await call('imbot.v2.Event.get', { ...bot, withUserEvents: true }), { status: 400, body: { error: 'USER_NOT_SUBSCRIBED' } })
  fake.subscribe()
  fake.pushUserEvent('ONIMV2JOINCHAT', {})
  fake.pushBotEvent(456, 'ONIMBOTV2COMMANDADD', {})
  t.same((await call('imbot.v2.Event.get', bot)).body.result.events.map((e: { type: string }) => e.type), ['ONIMBOTV2MESSAGEADD', 'ONIMBOTV2COMMANDADD'])
  const merged = (await call('imbot.v2.Event.get', { ...bot, withUserEvents: 'Y' })).body.result
  t.same(merged.events.map((e: { eventId: number }) => e.eventId), [1001, 1002, 1003])
  await call('imbot.v2.Event.get', { ...bot, withUserEvents: true, offset: merged.nextOffset })
  t.same([fake.unconfirmed(456), fake.unconfirmed('user')], [[], []], 'one offset confirms both')
  for (const [params, error] of [
    [{}, 'BOT_ID_REQUIRED'],
    [{ botId: 456 }, 'BOT_TOKEN_NOT_SPECIFIED'],
    [{ botId: 456, botToken: 'wrong' }, 'BOT_NOT_FOUND'],
    [{ botId: 999, botToken: 'x' }, 'BOT_NOT_FOUND'],
    [{ botId: 457, botToken: 'x' }, 'BOT_OWNERSHIP_ERROR'],
  ] as const) {
    t.match((await call('imbot.v2.Event.get', params)).body, { error }, error)
  }
  t.match((await call('imbot.v2.Event.get', { botId: 456, auth: fake.accessToken }, fake.restEndpoint)).status, 200, 'OAuth needs no botToken')
})

t.test('authenticates inbound webhooks and OAuth as the docs list', async (t) => {
  const { fake, call } = await start(t)
  t.match(await call('im.v2.Event.get', {}, fake.webhookUrl.replace(/[^/]+\/$/, 'bad/')), { status: 401, body: { error: 'INVALID_CREDENTIALS' } })
  t.match(await call('im.v2.Event.get', {}, fake.restEndpoint), { status: 401, body: { error: 'NO_AUTH_FOUND' } })
  t.match(await call('im.v2.Event.get', { auth: 'nope' }, fake.restEndpoint), { status: 401, body: { error: 'invalid_token' } })
  t.match(await call('im.v2.Event.get', { auth: fake.accessToken }, fake.restEndpoint), { status: 200 })
  t.match(await call('no.such.method'), { status: 404, body: { error: 'ERROR_METHOD_NOT_FOUND' } })
  t.match(fake.calls.map((c) => c.auth), ['webhook', 'none', 'oauth', 'oauth', 'webhook'])
  t.notOk(fake.calls.some((c) => 'auth' in c.params), 'tokens are not kept with the calls')
})

t.test('forgets events past the retention', async (t) => {
  const { fake } = await start(t)
  fake.subscribe()
  fake.pushUserEvent('ONIMV2MESSAGEADD', {})
  // A minute of margin each way: real time passes between these lines too.
  fake.advance(24 * 3600 * 1000 - 60_000)
  fake.pushUserEvent('ONIMV2MESSAGEADD', {})
  t.same(fake.unconfirmed('user'), [1001, 1002])
  fake.advance(60_000)
  t.same(fake.unconfirmed('user'), [1002])
})

t.test('injects faults: an error, a dropped connection, an answer held back until released', async (t) => {
  const { fake, call } = await start(t)
  fake.subscribe()
  fake.pushUserEvent('ONIMV2MESSAGEADD', {})
  fake.inject('im.v2.Event.get', { status: 500, error: 'INTERNAL_SERVER_ERROR' })
  fake.inject('*', { hold: true })
  fake.inject('im.v2.Event.subscribe', { drop: true })
  t.match(await call('im.v2.Event.get'), { status: 500, body: { error: 'INTERNAL_SERVER_ERROR' } })
  t.same(fake.unconfirmed('user'), [1001], 'an error reply: the call had no effect')
  let answered = false
  const late = call('im.v2.Event.get', { offset: 1002 }).then((reply) => ((answered = true), reply))
  await eventually(() => fake.held().length === 1)
  t.same(fake.unconfirmed('user'), [], 'a held call has taken effect: its offset confirmed')
  t.match(fake.held(), [{ method: 'im.v2.Event.get', params: { offset: 1002 }, result: { events: [], nextOffset: 1002 } }])
  t.notOk(answered, 'its answer is held back')
  t.equal(fake.release(), 1)
  t.match(await late, { status: 200, body: { result: { events: [], nextOffset: 1002 } } })
  t.equal(fake.release(), 0, 'nothing held any more')
  await t.rejects(call('im.v2.Event.subscribe'), 'the connection drops')
  fake.inject('*', { status: 503, error: 'QUERY_LIMIT_EXCEEDED' }, 2)
  fake.clearFaults()
  t.equal((await call('im.v2.Event.get')).status, 200, 'cleared faults are not used')
})

t.test('onCall hears each call as it arrives; the call takes effect once the listener is done', async (t) => {
  const { fake, call } = await start(t)
  fake.subscribe()
  fake.pushUserEvent('ONIMV2MESSAGEADD', {})
  const arrived: unknown[] = []
  let open!: () => void
  const gate = new Promise<void>((resolve) => (open = resolve))
  const stop = fake.onCall(async (c) => {
    arrived.push(c.params.offset)
    await gate
  })
  const pending = call('im.v2.Event.get', { offset: 1002 })
  await eventually(() => arrived.length === 1)
  t.same(fake.unconfirmed('user'), [1001], 'not in effect while the listener works')
  open()
  t.match(await pending, { status: 200, body: { result: { nextOffset: 1002 } } })
  t.same(fake.unconfirmed('user'), [])
  stop()
  await call('im.v2.Event.get')
  t.same(arrived, [1002], 'unsubscribed')
})

t.test('a held answer whose client gave up is dropped', async (t) => {
  const { fake } = await start(t)
  fake.inject('*', { hold: true })
  const abort = new AbortController()
  const gone = fetch(`${fake.webhookUrl}im.v2.Event.get`, { method: 'POST', signal: abort.signal }).catch((error: Error) => error.name)
  await eventually(() => fake.held().length === 1)
  abort.abort()
  t.equal(await gone, 'AbortError')
  t.equal(fake.release(), 1, 'released without anyone to answer')
})

t.test('rate-limits with 429 per credentials, refilling on the fake clock', async (t) => {
  const { fake, call } = await start(t)
  // One call per 10 s: only a 10 s stall between two calls could refill the bucket unasked.
  fake.rateLimit(0.1, 1)
  t.equal((await call('im.v2.Event.get')).status, 200)
  t.match(await call('im.v2.Event.get'), { status: 429, body: { error: 'QUERY_LIMIT_EXCEEDED' } })
  t.equal((await call('im.v2.Event.get', { auth: fake.accessToken }, fake.restEndpoint)).status, 200, 'another credential has its own bucket')
  fake.advance(10_000)
  t.equal((await call('im.v2.Event.get')).status, 200, 'the bucket refills')
  t.equal((await call('im.v2.Event.get')).status, 429)
  fake.rateLimit(null)
  t.equal((await call('im.v2.Event.get')).status, 200, 'off')
})

t.test('sends messages and answers commands as the bot', async (t) => {
  const { fake, call } = await start(t)
  const bot = { botId: 456, botToken: 'bot-token-456' }
  t.match((await call('imbot.v2.Chat.Message.send', { ...bot, dialogId: 'chat5', fields: { message: 'hi' } })).body.result, { id: Number, uuidMap: {} })
  t.match((await call('imbot.v2.Chat.Message.send', { ...bot, dialogId: 'chat5', fields: {} })).body, { error: 'EMPTY_MESSAGE' })
  t.match((await call('imbot.v2.Chat.Message.send', { ...bot, fields: { message: 'x' } })).body, { error: 'DIALOG_ID_EMPTY' })
  t.same((await call('imbot.v2.Command.answer', { ...bot, commandId: 1, messageId: 2, dialogId: 'chat5', fields: { message: 'ok' } })).body.result, { result: true })
  t.match((await call('imbot.v2.Command.answer', { ...bot, dialogId: 'chat5' })).body, { error: 'COMMAND_ANSWER_FAILED' })
  t.same(fake.sent.map((s) => s.method), ['imbot.v2.Chat.Message.send', 'imbot.v2.Command.answer'])
  const form = await fetch(`${fake.webhookUrl}im.v2.Event.subscribe`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1' })
  t.equal(form.status, 200, 'form bodies are read too')
})

t.test('batch: method?query commands run in order, each answer or error under its key, halt, 50 at most, no nesting, one rate-limit slot', async (t) => {
  const { fake, call } = await start(t)
  const send = (message: string) => `imbot.v2.Chat.Message.send?botId=456&botToken=bot-token-456&dialogId=chat5&fields%5Bmessage%5D=${encodeURIComponent(message)}`
  const all = await call('batch', { halt: 0, cmd: [send('one'), send('two')] })
  t.match(all, { status: 200, body: { result: { result: [{ id: Number }, { id: Number }], result_error: [], result_total: [], result_next: [], result_time: [{ duration: 0 }, {}] } } })
  t.same(fake.sent.map((sent) => (sent.params.fields as { message: string }).message), ['one', 'two'])

  fake.inject('imbot.v2.Chat.Message.send', { status: 429, error: 'OPERATION_TIME_LIMIT' })
  const mixed = await call('batch', { halt: 0, cmd: { a: send('held'), b: 'batch?cmd%5B0%5D=user.current', c: send('three'), d: 'imbot.v2.Chat.Message.send?botId=999&botToken=x&dialogId=chat5' } })
  t.same(mixed.body.result.result, { c: { id: Number(mixed.body.result.result.c.id), uuidMap: {} } })
  t.match(mixed.body.result.result_error, { a: { error: 'OPERATION_TIME_LIMIT' }, b: { error: 'ERROR_BATCH_METHOD_NOT_ALLOWED' }, d: { error: 'BOT_NOT_FOUND' } })

  const halted = await call('batch', { halt: 1, cmd: ['imbot.v2.Chat.Message.send?botId=999', send('never')] })
  t.same(halted.body.result.result, [])
  t.same(Object.keys(halted.body.result.result_error), ['0'])
  t.equal(fake.sent.length, 3)

  t.match(await call('batch', { cmd: Array.from({ length: 51 }, () => 'user.current') }), { status: 400, body: { error: 'ERROR_BATCH_LENGTH_EXCEEDED' } })
  t.match((await call('batch', {})).body.result, { result: [], result_error: [] })

  fake.rateLimit(0.001, 1)
  t.equal((await call('batch', { cmd: [send('four'), send('five')] })).status, 200, 'a batch takes one slot')
  t.match(await call('batch', { cmd: [send('six')] }), { status: 429, body: { error: 'QUERY_LIMIT_EXCEEDED' } })
})
