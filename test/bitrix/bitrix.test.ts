import t, { type Test } from 'tap'
import { BitrixError } from '../../src/bitrix/bitrix-error.ts'
import { createBitrix, type RestSettings } from '../../src/bitrix/bitrix.ts'
import { Pacer } from '../../src/bitrix/pacer.ts'
import type { PortalTrust } from '../../src/bitrix/portal-trust.ts'
import { webhookTarget } from '../../src/bitrix/rest-target.ts'
import { Credentials } from '../../src/event/credentials.ts'
import type { Wait } from '../../src/wait.ts'
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

t.test('batch through B24_REST_URL: one request, botId and botToken added to each imbot.v2 command, an outcome per call in order', async (t) => {
  const { fake, settings } = await start(t)
  const bitrix = createBitrix(new Credentials(), null, settings)
  const outcomes = await bitrix.batch([
    { method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', fields: { message: 'one & two' } } },
    { method: 'imbot.v2.Chat.Message.send', params: { botId: 999, dialogId: 'chat5', fields: { message: 'from a bot we do not have' } } },
    { method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', fields: {} } },
    { method: 'im.v2.Event.subscribe' },
  ])
  t.match(outcomes, [
    { ok: true, result: { id: Number } },
    { ok: false, error: { method: 'imbot.v2.Chat.Message.send', code: 'BOT_NOT_FOUND', fatal: true } },
    { ok: false, error: { code: 'EMPTY_MESSAGE', description: 'Message is empty' } },
    { ok: true, result: true },
  ])
  t.ok((outcomes[1] as { error: unknown }).error instanceof BitrixError)
  t.same(fake.calls.map((call) => [call.method, call.auth]), [['batch', 'webhook']], 'one request')
  t.match(fake.calls[0]?.params, { halt: 0, cmd: [/^imbot\.v2\.Chat\.Message\.send\?dialogId=chat5&fields%5Bmessage%5D=one\+%26\+two&botId=456&botToken=bot-token-456$/, /botId=999/, String, 'im.v2.Event.subscribe'] })
  t.match(fake.sent, [{ method: 'imbot.v2.Chat.Message.send', params: { botId: '456', dialogId: 'chat5', fields: { message: 'one & two' } } }])
})

t.test("batch as the bot with the event's OAuth tokens: no botToken, and only to the event's trusted portal", async (t) => {
  const { fake, settings, botAuth } = await start(t)
  const outcomes = await createBitrix(new Credentials({ domain: botAuth.domain }, botAuth), 456, settings).batch([{ method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', fields: { message: 'hi' } } }])
  t.match(outcomes, [{ ok: true, result: { id: Number } }])
  t.match(fake.calls, [{ method: 'batch', auth: 'oauth', params: { cmd: ['imbot.v2.Chat.Message.send?dialogId=chat5&fields%5Bmessage%5D=hi&botId=456'] } }])
  await t.rejects(createBitrix(new Credentials(undefined, botAuth), 456, undefined).batch([{ method: 'user.current' }]), { method: 'batch', code: 'UNTRUSTED_ENDPOINT' })
  await t.rejects(createBitrix(new Credentials(), null, undefined).batch([{ method: 'user.current' }]), { method: 'batch', code: 'NO_REST_CREDENTIALS' })
  t.equal(fake.calls.length, 1, 'nothing more sent')
})

t.test('batch refuses what is not a method name, and a batch inside a batch, before sending anything', async (t) => {
  const { fake, settings } = await start(t)
  const bitrix = createBitrix(new Credentials(), null, settings)
  await t.rejects(bitrix.batch([{ method: 'user.current' }, { method: 'user.get?ID=1' }]), { code: 'INVALID_METHOD', method: 'user.get?ID=1' })
  await t.rejects(bitrix.batch([{ method: 42 as unknown as string }]), { code: 'INVALID_METHOD', method: '42' })
  await t.rejects(bitrix.batch([{ method: 'batch', params: { cmd: ['user.current'] } }]), { code: 'INVALID_METHOD', method: 'batch', description: /cannot hold another batch/ })
  t.same(await bitrix.batch([]), [], 'nothing to call')
  t.same(fake.calls, [], 'nothing sent')
})

t.test('batch splits more than 50 calls into requests in order; each request takes one slot of the pacer and waits through wait', async (t) => {
  const { fake, settings } = await start(t)
  const called: string[] = []
  const observe = { called: (method: string) => void called.push(method), limited: () => undefined, waited: () => undefined }
  const pacer = new Pacer({ observe })
  let waits = 0
  const wait: Wait = (waiting) => (waits++, waiting)
  const bitrix = createBitrix(new Credentials(), null, { ...settings, pacer }, { wait })
  const calls = Array.from({ length: 120 }, (_, i) => ({ method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', fields: { message: `#${i}` } } }))
  const outcomes = await bitrix.batch(calls)
  t.equal(outcomes.length, 120)
  t.ok(outcomes.every((outcome) => outcome.ok))
  t.same(fake.calls.map((call) => (call.params.cmd as unknown[]).length), [50, 50, 20])
  t.same(fake.sent.map((sent) => (sent.params.fields as { message: string }).message), calls.map((call) => call.params.fields.message), 'sent in order')
  t.same(called, ['batch', 'batch', 'batch'], 'one paced request each')
  t.match(pacer.levels(), [{ portal: '127.0.0.1', level: Number }])
  t.ok((pacer.levels()[0]?.level ?? 0) <= 3, 'three slots at most taken from the bucket')
  t.equal(waits, 3, 'each request waited for its turn through wait')
  await bitrix.call('im.v2.Event.subscribe')
  t.same(called.at(-1), 'im.v2.Event.subscribe', 'call is paced too')
  t.equal(waits, 4)
})

t.test('an abandoned attempt batches nothing more: refused before, and between requests', async (t) => {
  const { fake, settings } = await start(t)
  const controller = new AbortController()
  controller.abort(new Error('the claim was lost'))
  await t.rejects(createBitrix(new Credentials(), null, settings, { signal: controller.signal }).batch([{ method: 'user.current' }]), { message: 'the claim was lost' })
  t.same(fake.calls, [])

  const later = new AbortController()
  const sent: unknown[] = []
  const app = {
    bitrix: {
      call: async <T>(method: string, params?: Record<string, unknown>, options?: unknown) => {
        sent.push([method, params, options])
        later.abort(new Error('lost meanwhile'))
        return { result: (params?.cmd as string[]).map(() => true) } as T
      },
    },
    confirmed: { domain: 'example.bitrix24.com', clientEndpoint: 'https://example.bitrix24.com/rest/' },
  }
  const bitrix = createBitrix(new Credentials({ domain: 'example.bitrix24.com' }), 456, settings, { app, signal: later.signal })
  await t.rejects(bitrix.batch(Array.from({ length: 51 }, () => ({ method: 'user.current' }))), { message: 'lost meanwhile' })
  t.equal(sent.length, 1, 'the second request was not sent')
})

t.test('application mode: call and batch go through the portal caller with the attempt signal and wait, botId added, no botToken', async (t) => {
  const { settings } = await start(t)
  const seen: unknown[] = []
  const app = {
    bitrix: {
      call: async <T>(method: string, params?: Record<string, unknown>, options?: unknown) => {
        seen.push({ method, params, options })
        return (method === 'batch' ? { result: [{ id: 1 }] } : { id: 2 }) as T
      },
    },
    confirmed: { domain: 'example.bitrix24.com', clientEndpoint: 'https://example.bitrix24.com/rest/' },
  }
  const signal = new AbortController().signal
  const wait: Wait = (waiting) => waiting
  const bitrix = createBitrix(new Credentials({ domain: 'example.bitrix24.com' }), 456, settings, { app, signal, wait })
  t.same(await bitrix.call('imbot.v2.Chat.Message.send', { dialogId: 'chat5' }), { id: 2 })
  t.same(await bitrix.batch([{ method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', fields: { message: 'hi' } } }]), [{ ok: true, result: { id: 1 } }])
  t.same(seen, [
    { method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', botId: 456 }, options: { signal, wait } },
    { method: 'batch', params: { halt: 0, cmd: ['imbot.v2.Chat.Message.send?dialogId=chat5&fields%5Bmessage%5D=hi&botId=456'] }, options: { signal, wait } },
  ])
})
