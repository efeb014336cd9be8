import t, { type Test } from 'tap'
import type { BitrixError } from '../../src/bitrix/bitrix-error.ts'
import type { ReceiverOptions } from '../../src/receiver/receiver-options.ts'
import { encodeForm, type PhpValue } from '../../src/wire/encode-form.ts'
import { eventually, readFixture, startTestApp } from '../helpers.ts'

// A real bot message (the captured fixture), its portal and endpoints rewritten per test: where
// may ctx.bitrix send the bot's tokens it brought? Name resolution is the test's: no network.
const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348'
const BOT_TOKEN = '0b02a0690000071b0008440001b0007a16b39202c2490f015'

let messages = 0

function botMessage(token: string, domain: string, endpoint = `https://${domain}/rest/`): string {
  const payload = JSON.parse(readFixture('bitrix/imbot_v2_message_add_webhook.payload.json')) as { auth: Record<string, unknown>; data: { bot: { auth: Record<string, unknown> }; message: { id: number } } }
  // Each its own message: the same one twice would be a double delivery.
  payload.data.message.id += ++messages
  for (const auth of [payload.auth, payload.data.bot.auth]) Object.assign(auth, { application_token: token, domain, client_endpoint: endpoint })
  return encodeForm(payload as unknown as PhpValue)
}

async function start(t: Test, options: Partial<ReceiverOptions>) {
  const lookups: string[] = []
  const server = await startTestApp({
    worker: { maxAttempts: 1 },
    rest: { timeoutMs: 1000 },
    lookupHost: async (host) => {
      lookups.push(host)
      return ['203.0.113.9']
    },
    ...options,
  })
  t.teardown(server.close)
  const errors: BitrixError[] = []
  server.receiver.on('ONIMBOTV2MESSAGEADD', async (_event, ctx) => {
    await ctx.bitrix.call('imbot.v2.Chat.Message.send', { dialogId: 'chat5', fields: { message: 'hi' } }).catch((error: BitrixError) => void errors.push(error))
  })
  return { server, errors, lookups }
}

t.test('an endpoint the event points elsewhere than its portal, or inside the network, gets nothing', async (t) => {
  const { server, errors, lookups } = await start(t, { tokens: ['app-token'] })
  t.equal((await server.post(botMessage('app-token', 'some-domain.bitrix24.com', 'https://collector.example/rest/'))).status, 200)
  t.equal((await server.post(botMessage('app-token', '10.0.0.7'))).status, 200)
  t.equal((await server.post(botMessage('app-token', 'box.example'))).status, 200)
  await eventually(() => errors.length === 3)
  t.match(errors, [
    { code: 'UNTRUSTED_ENDPOINT', fatal: true, message: /not on the event's portal domain some-domain\.bitrix24\.com/ },
    { code: 'UNTRUSTED_ENDPOINT', message: /10\.0\.0\.7, not a trusted portal/ },
    { code: 'UNTRUSTED_ENDPOINT', message: /box\.example, not a trusted portal/ },
  ])
  t.same(lookups, [], 'refused before any lookup')
  t.notOk(server.logs.text().includes(BOT_TOKEN) || errors.some((error) => error.message.includes(BOT_TOKEN)), "the bot's token is in no log line or error")
})

t.test('a pin that names the domain binds it at the door, and lets ctx.bitrix call it', async (t) => {
  const { server, errors, lookups } = await start(t, { tokens: [`${MEMBER}@box.example:pinned-token`, `${MEMBER}:member-token`], portalHosts: [] })
  t.equal((await server.post(botMessage('pinned-token', 'elsewhere.example'))).status, 401, 'the pinned token from another domain')
  t.equal((await server.post(botMessage('member-token', 'other.example'))).status, 200, 'a member pin says nothing of the domain')
  await eventually(() => errors.length === 1)
  t.match(errors[0], { code: 'UNTRUSTED_ENDPOINT', message: /other\.example, not a trusted portal/ }, 'so ctx.bitrix does not call it')
  t.equal((await server.post(botMessage('pinned-token', 'box.example'))).status, 200)
  await eventually(() => errors.length === 2)
  // The pinned domain passes the check (looked up: a public address) and the call goes out; box.example does not exist.
  t.same(lookups, ['box.example'])
  t.notMatch(errors[1], { code: 'UNTRUSTED_ENDPOINT' }, `the call went out (${errors[1]?.code})`)
})

t.test('a host the patterns name may be on this machine', async (t) => {
  const { server, errors } = await start(t, { tokens: ['app-token'], portalHosts: ['127.0.0.1'], lookupHost: undefined })
  // Nothing listens on port 9 (discard): the call is made, and fails at the connection.
  t.equal((await server.post(botMessage('app-token', '127.0.0.1:9', 'http://127.0.0.1:9/rest/'))).status, 200)
  await eventually(() => errors.length === 1)
  t.match(errors, [{ code: 'NETWORK_ERROR' }])
})
