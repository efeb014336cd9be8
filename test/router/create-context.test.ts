import t from 'tap'
import { pino } from 'pino'
import type { RestSettings } from '../../src/bitrix/bitrix.ts'
import { Pacer } from '../../src/bitrix/pacer.ts'
import { webhookTarget } from '../../src/bitrix/rest-target.ts'
import { decodeBody } from '../../src/event/decode-body.ts'
import { Credentials } from '../../src/event/credentials.ts'
import type { DecodedEvent } from '../../src/event/decoded-event.ts'
import { createContext } from '../../src/router/create-context.ts'
import type { Wait } from '../../src/wait.ts'
import type { PortalRow } from '../../schemas/portal.ts'
import { FakeBitrix } from '../fakes/fake-portal.ts'
import { readFixture } from '../helpers.ts'

const logger = pino({ level: 'silent' })

/** A bot event as if polled: no tokens of its own, so calls go through B24_REST_URL (the fake portal). */
function polled(name: string): DecodedEvent {
  const decoded = decodeBody(readFixture(`bitrix/${name}.body.txt`))
  return { ...decoded, delivery: { ...decoded.delivery, source: 'poll', credentials: new Credentials() } }
}

t.test("ctx.reply answers in the event's dialog as its bot through ctx.bitrix: paced, its waits through the attempt's wait", async (t) => {
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  const called: string[] = []
  const pacer = new Pacer({ observe: { called: (method) => void called.push(method), limited: () => undefined, waited: () => undefined } })
  const rest: RestSettings = { webhook: webhookTarget(fake.webhookUrl), botId: null, botToken: 'bot-token-456', timeoutMs: 1000, pacer }
  let waits = 0
  const wait: Wait = (waiting) => (waits++, waiting)
  const ctx = createContext(polled('imbot_v2_message_add_webhook'), logger, { rest, wait })
  t.match(await ctx.reply('Hello!'), { id: Number, uuidMap: {} })
  t.match(fake.sent, [{ method: 'imbot.v2.Chat.Message.send', params: { botId: 456, botToken: 'bot-token-456', dialogId: 'chat5', fields: { message: 'Hello!' } } }])
  t.same(called, ['imbot.v2.Chat.Message.send'])
  t.equal(waits, 1)
  t.match(await ctx.bitrix.batch([{ method: 'imbot.v2.Chat.Message.send', params: { dialogId: 'chat5', fields: { message: 'and more' } } }]), [{ ok: true }])
  t.same(called, ['imbot.v2.Chat.Message.send', 'batch'])
})

t.test('once the attempt is abandoned ctx.reply sends nothing', async (t) => {
  const fake = await FakeBitrix.start()
  t.teardown(() => fake.close())
  const controller = new AbortController()
  controller.abort(new Error('the claim was lost'))
  const rest: RestSettings = { webhook: webhookTarget(fake.webhookUrl), botId: null, botToken: 'bot-token-456', timeoutMs: 1000 }
  const ctx = createContext(polled('imbot_v2_message_add_webhook'), logger, { rest, signal: controller.signal })
  await t.rejects(ctx.reply('too late'), { message: 'the claim was lost' })
  t.same(fake.calls, [])
})

t.test("application mode: ctx.reply goes through the portal's caller with the attempt's signal and wait", async (t) => {
  const decoded = polled('imbot_v2_message_add_webhook')
  const seen: unknown[] = []
  const bitrix = { call: async <T>(method: string, params?: Record<string, unknown>, options?: unknown) => (seen.push({ method, params, options }), { id: 1, uuidMap: {} } as T) }
  const row = { memberId: decoded.delivery.portal.memberId, domain: decoded.delivery.portal.domain, clientEndpoint: 'https://some-domain.bitrix24.com/rest/', status: 'active', scope: 'imbot', version: 3, expiresAt: null, installedAt: 0, updatedAt: 0 } as unknown as PortalRow
  const signal = new AbortController().signal
  const wait: Wait = (waiting) => waiting
  const ctx = createContext(decoded, logger, { app: { row, bitrix }, signal, wait })
  t.same(await ctx.reply({ message: 'hi' }), { id: 1, uuidMap: {} })
  t.same(seen, [{ method: 'imbot.v2.Chat.Message.send', params: { botId: 456, dialogId: 'chat5', fields: { message: 'hi' } }, options: { signal, wait } }])
})

t.test('by default: the first attempt, the event’s own key, a signal that never aborts; a user event has no reply', async (t) => {
  const decoded = polled('im_v2_message_add')
  const lines: Array<Record<string, unknown>> = []
  const capture = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) })
  const ctx = createContext({ ...decoded, delivery: { ...decoded.delivery, portal: { ...decoded.delivery.portal, domain: null } } }, capture)
  t.equal(ctx.attempt, 1)
  t.type(ctx.key, 'string')
  t.notOk(ctx.signal.aborted)
  t.equal(ctx.source, 'poll')
  await t.rejects(ctx.reply('hi'), { code: 'NO_REPLY_DIALOG' })
  await t.rejects(ctx.bitrix.call('im.v2.Event.get'), { code: 'NO_REST_CREDENTIALS' })
  ctx.log.info('seen')
  t.match(lines, [{ type: 'ONIMV2MESSAGEADD', portal: decoded.delivery.portal.memberId, msg: 'seen' }])
})
