import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { isChatEventType } from '../../schemas/event-data.ts'
import type { NormalizedEvent } from '../../src/event/inbound-event.ts'
import type { HandlerContext } from '../../src/router/handler-context.ts'
import type { Router } from '../../src/router/router.ts'
import { startServer } from '../../src/server.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { readPhpJson } from '../../src/wire/read-php-json.ts'
import { FakeBitrix } from '../fake-portal.ts'
import { asJson, bitrixCases, captureLogs, eventually, readFixture } from '../helpers.ts'

const BOT = { id: 456, code: 'support_bot', token: 'bot-token-456' }

/** The service, polling the fake portal as the bot with user events, plus what its handlers saw. */
async function serve(t: Test, fake: FakeBitrix, env: Record<string, string> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'b24-door-'))
  const seen: Array<{ event: NormalizedEvent; ctx: HandlerContext }> = []
  const logs = captureLogs()
  const server = await startServer(
    {
      PORT: '0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'debug',
      B24_POLL: 'imbot',
      B24_REST_URL: fake.webhookUrl,
      B24_BOT_ID: String(BOT.id),
      B24_BOT_TOKEN: BOT.token,
      B24_POLL_WITH_USER_EVENTS: 'true',
      B24_POLL_BUSY_MS: '10',
      B24_POLL_IDLE_MS: '20',
      MAX_ATTEMPTS: '2',
      RETRY_BASE_MS: '10',
      ...env,
    },
    { destination: logs.stream, register: (router: Router) => router.onAny((event, ctx) => void seen.push({ event, ctx })) },
  )
  const close = async () => {
    await server.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
  t.teardown(close)
  const get = (path: string) => fetch(`${server.url}${path}`).then(async (response) => ({ status: response.status, body: (await response.json()) as any }))
  const post = (body: string) => fetch(`${server.url}/webhook`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
  return { server, seen, logs, get, post, close }
}

/** A fixture's payload as PHP would hold it, with its bot's OAuth pointed at the fake portal. */
function payloadFor(name: string, fake?: FakeBitrix): Map<string, PhpValue> {
  const payload = readPhpJson(readFixture(`bitrix/${name}.payload.json`)) as Map<string, PhpValue>
  const auth = ((payload.get('data') as Map<string, PhpValue>).get('bot') as Map<string, PhpValue> | undefined)?.get('auth') as Map<string, PhpValue> | undefined
  if (auth && fake) {
    auth.set('client_endpoint', fake.restEndpoint)
    auth.set('access_token', fake.accessToken)
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
    const payload = JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as { event: string; auth?: { application_token?: string } }
    return isChatEventType(payload.event.toUpperCase()) && name !== 'variant_empty_and_null' // the one fixture the contract refuses (422)
  })
  const tokens = cases.map((name) => (JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as { auth: { application_token: string } }).auth.application_token)
  const { seen, post } = await serve(t, fake, { B24_APP_TOKENS: [...new Set(tokens)].join(',') })
  const types = new Set<string>()
  for (const name of cases) {
    const before = seen.length
    t.equal((await post(readFixture(`bitrix/${name}.body.txt`))).status, 200, `${name} by webhook`)
    await eventually(() => seen.length === before + 1)
    const type = seen[before]!.event.type
    if (type.startsWith('ONIMBOTV2')) fake.pushBotEvent(BOT.id, type, polledData(name))
    else fake.pushUserEvent(type, polledData(name))
    await eventually(() => seen.length === before + 2)
    const [hook, poll] = seen.slice(before)
    t.match([hook!.ctx.source, poll!.ctx.source], ['webhook', 'poll'])
    t.same(asJson(poll!.event.data), asJson(hook!.event.data), `${name}: same data`)
    t.equal(poll!.event.type, hook!.event.type)
    t.type(poll!.event.eventId, 'number', 'polled with its real eventId')
    types.add(type)
  }
  t.equal(types.size, 13, 'all 13 chat event types')
})

t.test('/health shows the poller; a fatal error stops it and turns /ready to 503 with the reason', async (t) => {
  const fake = await FakeBitrix.start({ bots: [BOT], foreignBotIds: [457] })
  t.teardown(() => fake.close())
  const ok = await serve(t, fake)
  await eventually(() => fake.calls.filter((call) => call.method === 'imbot.v2.Event.get').length >= 2)
  const health = await ok.get('/health')
  t.match(health.body, { ready: true, poller: { mode: 'imbot', state: 'polling', lastError: null } })
  t.equal((await ok.get('/ready')).status, 200)
  await ok.close() // one poller per queue in a process

  for (const [env, code] of [
    [{ B24_REST_URL: fake.webhookUrl.replace(/\/[^/]+\/$/, '/wrong-secret/') }, 'INVALID_CREDENTIALS'],
    [{ B24_BOT_ID: '999' }, 'BOT_NOT_FOUND'],
    [{ B24_BOT_ID: '457' }, 'BOT_OWNERSHIP_ERROR'],
  ] as const) {
    const bad = await serve(t, fake, env)
    await eventually(() => bad.logs.parsed().some((line) => line.level === 50))
    const ready = await bad.get('/ready')
    t.equal(ready.status, 503, code)
    t.match(ready.body.reason, new RegExp(`^the poller stopped: .*${code}`))
    t.match((await bad.get('/health')).body, { status: 'degraded', poller: { state: 'failed', lastError: new RegExp(code) } })
    const errors = bad.logs.parsed().filter((line) => line.level === 50)
    t.equal(errors.length, 1, 'said once')
    t.match(errors[0], { code, msg: /Retrying cannot help/ })
    t.notMatch(bad.logs.text(), /wrong-secret|bot-token-456/, 'no secret in the logs')
    await bad.close()
  }
})

t.test('the example bot answers a message and a command, by webhook and by polling', async (t) => {
  const fake = await FakeBitrix.start({ bots: [BOT] })
  t.teardown(() => fake.close())
  const tokenOf = (name: string) => (JSON.parse(readFixture(`bitrix/${name}.payload.json`)) as { auth: { application_token: string } }).auth.application_token
  const { post, seen } = await serve(t, fake, { EXAMPLE_BOT: 'true', B24_APP_TOKENS: `${tokenOf('imbot_v2_message_add_webhook')},${tokenOf('imbot_v2_command_add_webhook')}` })

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
  t.ok(fake.calls.filter((call) => call.method.startsWith('imbot.v2.C')).slice(2).every((call) => call.auth === 'webhook'), 'polled events answer through B24_REST_URL')
  await eventually(() => seen.length === 6)
})
