import t, { type Test } from 'tap'
import { createBitrix, type RestSettings } from '../../src/bitrix/bitrix.ts'
import type { PortalTrust } from '../../src/bitrix/portal-trust.ts'
import { webhookTarget } from '../../src/bitrix/rest-target.ts'
import { Credentials } from '../../src/event/credentials.ts'
import { FakeBitrix } from '../fakes/fake-portal.ts'

// The fake portal listens on 127.0.0.1 over http: trusted only because the settings name it.
const local: PortalTrust = { hosts: ['127.0.0.1'], pinnedDomains: new Set(), lookup: () => Promise.reject(new Error('no DNS in these tests')) }

async function start(t: Test) {
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  const settings: RestSettings = { webhook: webhookTarget(fake.webhookUrl), botId: 456, botToken: 'bot-token-456', timeoutMs: 1000, portals: local }
  const botAuth = { access_token: fake.accessToken, client_endpoint: fake.restEndpoint, domain: new URL(fake.url).host }
  return { fake, settings, botAuth }
}

t.test("calls as the bot with the event's bot OAuth tokens, adding the event's botId but no botToken", async (t) => {
  const { fake, settings, botAuth } = await start(t)
  const bitrix = createBitrix(new Credentials({ application_token: 'x', domain: botAuth.domain }, botAuth), 456, settings)
  t.match(await bitrix.call('imbot.v2.Chat.Message.send', { dialogId: 'chat5', fields: { message: 'hi' } }), { id: Number })
  t.match(fake.calls.at(-1), { method: 'imbot.v2.Chat.Message.send', auth: 'oauth', params: { botId: 456, dialogId: 'chat5' } })
  t.notOk('botToken' in (fake.calls.at(-1)?.params ?? {}), 'OAuth needs no botToken')
})

t.test("uses the event's top-level auth tokens when there is no bot block", async (t) => {
  const { fake, settings, botAuth } = await start(t)
  await createBitrix(new Credentials(botAuth), null, settings).call('im.v2.Event.subscribe')
  t.match(fake.calls.at(-1), { method: 'im.v2.Event.subscribe', auth: 'oauth' })
})

t.test('falls back to B24_REST_URL, adding botId and botToken to imbot.v2 methods only', async (t) => {
  const { fake, settings } = await start(t)
  const bitrix = createBitrix(new Credentials(), null, settings)
  await bitrix.call('imbot.v2.Command.answer', { commandId: 1, messageId: 2, dialogId: 'chat5', fields: { message: 'ok' } })
  t.match(fake.calls.at(-1), { auth: 'webhook', params: { botId: 456, botToken: 'bot-token-456', commandId: 1 } })
  await bitrix.call('im.v2.Event.subscribe')
  t.same(fake.calls.at(-1)?.params, {}, 'nothing added to other methods')
  await t.rejects(bitrix.call('imbot.v2.Chat.Message.send', { botId: 999, dialogId: 'chat5', fields: { message: 'x' } }), { code: 'BOT_NOT_FOUND' }, 'a given botId wins')
  t.equal(fake.sent.length, 1)
})

t.test("with event tokens no settings are needed, but then only Bitrix24's cloud is trusted", async (t) => {
  const { fake, botAuth } = await start(t)
  await t.rejects(createBitrix(new Credentials(undefined, botAuth), 456, undefined).call('imbot.v2.Command.answer', { commandId: 1 }), { code: 'UNTRUSTED_ENDPOINT', fatal: true })
  t.same(fake.calls, [], 'nothing sent')
})

t.test('application mode: an event of a stored portal calls as the bot on the domain app.info confirmed, else as the application', async (t) => {
  const { fake, botAuth } = await start(t)
  const bitrix = { call: async <T>() => 'as the application' as T }
  const app = { bitrix, confirmed: { domain: botAuth.domain, clientEndpoint: fake.restEndpoint } }
  const settings: RestSettings = { webhook: null, botId: null, botToken: null, timeoutMs: 1000, portals: { ...local, hosts: [] } }
  t.equal(await createBitrix(new Credentials({ domain: botAuth.domain }), null, settings, { app: app }).call('im.v2.Event.get'), 'as the application')
  // The domain confirmed, another endpoint on it: the rules apply (no pattern names 127.0.0.1, no plain http).
  const elsewhere = { bitrix, confirmed: { domain: botAuth.domain, clientEndpoint: 'https://portal.example/rest/' } }
  await t.rejects(createBitrix(new Credentials(undefined, botAuth), 456, settings, { app: elsewhere }).call('imbot.v2.Command.answer'), { code: 'UNTRUSTED_ENDPOINT', message: /not https/ })
  await t.rejects(createBitrix(new Credentials(undefined, botAuth), 456, settings, { app: { bitrix, confirmed: { domain: 'other.example', clientEndpoint: 'https://other.example/rest/' } } }).call('imbot.v2.Command.answer'), { message: /not a trusted portal/ })
  t.same(fake.calls, [], 'nothing sent')
  // The very endpoint app.info confirmed is used as is, as the application's own calls use it.
  await createBitrix(new Credentials(undefined, botAuth), 456, settings, { app: app }).call('imbot.v2.Command.answer', { commandId: 1, messageId: 2, dialogId: 'chat5' })
  t.match(fake.sent, [{ method: 'imbot.v2.Command.answer', params: { botId: 456 } }])
})

t.test('without credentials or B24_REST_URL a call fails clearly', async (t) => {
  await t.rejects(createBitrix(new Credentials(), 1, undefined).call('imbot.v2.Chat.Message.send'), { code: 'NO_REST_CREDENTIALS', fatal: true })
  await t.rejects(createBitrix(new Credentials(), null, { webhook: null, botId: null, botToken: null, timeoutMs: 10 }).call('im.v2.Event.get'), { code: 'NO_REST_CREDENTIALS' })
})
