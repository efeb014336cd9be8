import t, { type Test } from 'tap'
import { isChatEventType } from '../../schemas/event-data.ts'
import type { NormalizedEvent } from '../../src/event/decoded-event.ts'
import { exampleBot } from '../../src/example-bot.ts'
import type { ReceiverOptions } from '../../src/receiver/receiver-options.ts'
import type { HandlerContext } from '../../src/router/handler-context.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { readPhpJson } from '../../src/wire/read-php-json.ts'
import { FakeBitrix } from '../fakes/fake-portal.ts'
import { asJson, bitrixCases, eventually, readFixture, startTestApp } from '../helpers.ts'

const BOT = { id: 456, code: 'support_bot', token: 'bot-token-456' }

const tokenOf = (name: string) => (JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as { auth: { application_token: string } }).auth.application_token

/**
 * A receiver (its store in memory) taking webhooks and polling the fake portal as the bot, with
 * user events; what its handlers saw, with their context.
 */
async function serve(t: Test, fake: FakeBitrix, options: Partial<ReceiverOptions> = {}) {
  const app = await startTestApp({
    poll: { mode: 'imbot', withUserEvents: true, busyMs: 10, idleMs: 20 },
    rest: { url: fake.webhookUrl, botId: BOT.id, botToken: BOT.token },
    // The fake portal: on this machine, over http.
    portalHosts: ['127.0.0.1'],
    ...options,
  })
  t.teardown(() => app.close())
  const seen: Array<{ event: NormalizedEvent; ctx: HandlerContext }> = []
  // Before anything is pushed to the portal: nothing is polled before it is there.
  app.receiver.onAny((event, ctx) => void seen.push({ event, ctx }))
  const get = async (url: string) => {
    const response = await app.inject({ method: 'GET', url })
    return { status: response.status, body: (await response.json()) as any }
  }
  return { ...app, seen, get }
}

/** A fixture's payload as PHP would hold it, with its bot's OAuth pointed at the fake portal. */
function payloadFor(name: string, fake?: FakeBitrix): Map<string, PhpValue> {
  const payload = readPhpJson(readFixture(`bitrix/${name}.payload.json`)) as Map<string, PhpValue>
  const auth = ((payload.get('data') as Map<string, PhpValue>).get('bot') as Map<string, PhpValue> | undefined)?.get('auth') as Map<string, PhpValue> | undefined
  if (auth && fake) {
    auth.set('client_endpoint', fake.restEndpoint)
    auth.set('access_token', fake.accessToken)
    // The portal moved to the fake as a whole: its domain is the endpoint's host (ctx.bitrix calls nowhere else).
    auth.set('domain', new URL(fake.url).host)
    ;(payload.get('auth') as Map<string, PhpValue>).set('domain', new URL(fake.url).host)
  }
  return payload
}

/** The same event as `imbot.v2.Event.get` returns it: the payload's typed JSON `data`, without the bot's tokens. */
function polledData(name: string): Record<string, unknown> {
  const data = (JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as { data: Record<string, any> }).data
  if (data.bot) delete data.bot.auth
  return data
}

t.test('the same handler sees deep-equal data by webhook and by polling, for every fixture type', async (t) => {
  const fake = await FakeBitrix.start({ bots: [BOT] })
  t.teardown(() => fake.close())
  fake.subscribe()
  const cases = bitrixCases().filter((name) => {
    const payload = JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as { event: string }
    return isChatEventType(payload.event.toUpperCase()) && name !== 'variant_empty_and_null' // off its schema: taken (200), then dead-lettered by the worker
  })
  const { seen, post } = await serve(t, fake, { tokens: [...new Set(cases.map(tokenOf))] })
  const types = new Set<string>()
  for (const name of cases) {
    const before = seen.length
    t.equal((await post(readFixture(`bitrix/${name}.body.txt`))).status, 200, `${name} by webhook`)
    await eventually(() => seen.length === before + 1)
    const type = seen[before]!.event.type
    const eventId = type.startsWith('ONIMBOTV2') ? fake.pushBotEvent(BOT.id, type, polledData(name)) : fake.pushUserEvent(type, polledData(name))
    await eventually(() => seen.length === before + 2)
    const [hook, poll] = seen.slice(before)
    t.match([hook!.ctx.source, poll!.ctx.source], ['webhook', 'poll'])
    t.same(asJson(poll!.event.data), asJson(hook!.event.data), `${name}: same data`)
    t.equal(poll!.event.type, hook!.event.type)
    t.equal(poll!.event.eventId, eventId, 'polled with its real eventId')
    types.add(type)
  }
  t.equal(types.size, 13, 'all 13 chat event types')
})

t.test('/health shows the poller; a fatal error stops it and turns /ready to 503 with the reason', async (t) => {
  const fake = await FakeBitrix.start({ bots: [BOT], foreignBotIds: [457] })
  t.teardown(() => fake.close())
  const ok = await serve(t, fake)
  await eventually(() => fake.calls.filter((call) => call.method === 'imbot.v2.Event.get').length >= 2)
  t.match((await ok.get('/health')).body, { status: 'ok', ready: true, poller: { mode: 'imbot', state: 'polling', offset: Number, lastPollAt: String, lastError: null } })
  t.same(await ok.get('/ready'), { status: 200, body: { ready: true, reason: null } })
  await ok.close()
  t.match(ok.receiver.ready(), { ready: false }, 'closed')
  t.match((await ok.receiver.health()).poller, { state: 'stopped' })

  const ours = { url: fake.webhookUrl, botId: BOT.id, botToken: BOT.token }
  for (const [rest, code] of [
    [{ url: fake.webhookUrl.replace(/\/[^/]+\/$/, '/wrong-secret/') }, 'INVALID_CREDENTIALS'],
    [{ botId: 999 }, 'BOT_NOT_FOUND'],
    [{ botId: 457 }, 'BOT_OWNERSHIP_ERROR'],
  ] as const) {
    const bad = await serve(t, fake, { rest: { ...ours, ...rest } })
    await eventually(() => bad.logs.parsed().some((line) => line.level === 50))
    const ready = await bad.get('/ready')
    t.equal(ready.status, 503, code)
    t.match(ready.body, { ready: false, reason: new RegExp(`^the poller stopped: .*${code}`) })
    t.match((await bad.get('/health')).body, { status: 'degraded', ready: false, poller: { state: 'failed', lastError: new RegExp(code) } })
    const errors = bad.logs.parsed().filter((line) => line.level === 50)
    t.equal(errors.length, 1, 'said once')
    t.match(errors[0], { code, msg: /Retrying cannot help/ })
    t.notMatch(bad.logs.text(), /wrong-secret|bot-token-456/, 'no secret in the logs')
    await bad.close()
    t.match((await bad.receiver.health()).poller, { state: 'failed' }, 'still failed once closed')
  }
})

t.test('the example bot answers a message and a command, by webhook and by polling', async (t) => {
  const fake = await FakeBitrix.start({ bots: [BOT] })
  t.teardown(() => fake.close())
  const { post, seen, receiver } = await serve(t, fake, { tokens: [tokenOf('imbot_v2_message_add_webhook'), tokenOf('imbot_v2_command_add_webhook')] })
  receiver.use(exampleBot())

  t.equal((await post(encodeForm(payloadFor('imbot_v2_message_add_webhook', fake)))).status, 200)
  t.equal((await post(encodeForm(payloadFor('imbot_v2_command_add_webhook', fake)))).status, 200)
  await eventually(() => fake.sent.length === 2)
  const byWebhook = fake.calls.filter((call) => call.method.startsWith('imbot.v2.C'))
  t.match(byWebhook, [
    { method: 'imbot.v2.Chat.Message.send', auth: 'oauth', params: { botId: 456, dialogId: 'chat5', fields: { message: 'You wrote: Hello bot!' } } },
    { method: 'imbot.v2.Command.answer', auth: 'oauth', params: { botId: 456, dialogId: 'chat5', commandId: Number, messageId: Number, fields: { message: /^Command \/help/ } } },
  ])

  fake.pushBotEvent(BOT.id, 'ONIMBOTV2MESSAGEADD', polledData('imbot_v2_message_add_webhook'))
  fake.pushBotEvent(BOT.id, 'ONIMBOTV2COMMANDADD', polledData('imbot_v2_command_add_webhook'))
  // A message without text (a file, say) and a command without arguments.
  const fileOnly = polledData('imbot_v2_message_add_webhook') as { message: { text: string } }
  fileOnly.message.text = ''
  fake.pushBotEvent(BOT.id, 'ONIMBOTV2MESSAGEADD', fileOnly)
  const noArgs = polledData('imbot_v2_command_add_webhook') as { command: { params: string } }
  noArgs.command.params = '  '
  fake.pushBotEvent(BOT.id, 'ONIMBOTV2COMMANDADD', noArgs)
  await eventually(() => fake.sent.length === 6, 5000)
  t.match(fake.sent.slice(2), [
    { method: 'imbot.v2.Chat.Message.send', params: { botId: 456, botToken: BOT.token, dialogId: 'chat5', fields: { message: 'You wrote: Hello bot!' } } },
    { method: 'imbot.v2.Command.answer', params: { botId: 456, botToken: BOT.token, dialogId: 'chat5', fields: { message: 'Command /help with "topic" received.' } } },
    { method: 'imbot.v2.Chat.Message.send', params: { fields: { message: 'I got your message.' } } },
    { method: 'imbot.v2.Command.answer', params: { fields: { message: 'Command /help received.' } } },
  ])
  t.ok(fake.calls.filter((call) => call.method.startsWith('imbot.v2.C')).slice(2).every((call) => call.auth === 'webhook'), 'polled events answer through the REST URL')
  await eventually(() => seen.length === 6)
})
