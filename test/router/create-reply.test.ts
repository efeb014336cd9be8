import t from 'tap'
import type { Bitrix } from '../../src/bitrix/bitrix.ts'
import { decodeBody } from '../../src/event/decode-body.ts'
import type { NormalizedEvent } from '../../src/event/decoded-event.ts'
import { createReply } from '../../src/router/create-reply.ts'
import { readFixture } from '../helpers.ts'

const eventOf = (name: string) => decodeBody(readFixture(`bitrix/${name}.body.txt`)).event

/** A `ctx.bitrix` that notes its calls and answers as imbot.v2.Chat.Message.send does. */
function recorder() {
  const calls: Array<{ method: string; params: unknown }> = []
  const bitrix: Bitrix = {
    call: async <T>(method: string, params?: Record<string, unknown>) => (calls.push({ method, params }), { id: 789, uuidMap: {} } as T),
  }
  return { bitrix, calls }
}

t.test("answers a message in its chat's dialog as the event's bot, a text or the method's fields; returns what the method returns", async (t) => {
  const { bitrix, calls } = recorder()
  const reply = createReply(eventOf('imbot_v2_message_add_webhook'), bitrix)
  t.same(await reply('Hello!'), { id: 789, uuidMap: {} })
  await reply({ message: 'With a button', keyboard: [{ TEXT: 'Open', LINK: 'https://example.com' }], replyId: 789, urlPreview: false })
  t.same(calls, [
    { method: 'imbot.v2.Chat.Message.send', params: { botId: 456, dialogId: 'chat5', fields: { message: 'Hello!' } } },
    { method: 'imbot.v2.Chat.Message.send', params: { botId: 456, dialogId: 'chat5', fields: { message: 'With a button', keyboard: [{ TEXT: 'Open', LINK: 'https://example.com' }], replyId: 789, urlPreview: false } } },
  ])
})

t.test("a join or a context event names its dialog itself; a command answers in the chat it came from", async (t) => {
  const { bitrix, calls } = recorder()
  const join = eventOf('imbot_v2_join_chat_webhook')
  ;(join.data as { chat: { dialogId: string } }).chat.dialogId = 'chat6'
  await createReply(join, bitrix)('Thanks for adding me')
  await createReply(eventOf('imbot_v2_context_get_webhook'), bitrix)('Hello')
  await createReply(eventOf('imbot_v2_command_add_webhook'), bitrix)('Done')
  t.match(calls, [{ params: { botId: 456, dialogId: 'chat5' } }, { params: { botId: 456, dialogId: String } }, { params: { botId: 456, dialogId: 'chat5' } }])
})

t.test('an event without a bot and a dialog has nothing to reply in: NO_REPLY_DIALOG, nothing sent', async (t) => {
  const { bitrix, calls } = recorder()
  const generic = { eventId: null, type: 'ONCRMDEALADD', date: '2025-01-15T08:30:00.000Z', data: { FIELDS: { ID: '1' } } } as unknown as NormalizedEvent
  const noDialog = eventOf('imbot_v2_message_add_webhook')
  ;(noDialog.data as { chat: { dialogId: string } }).chat.dialogId = ''
  for (const event of [eventOf('imbot_v2_delete_webhook'), eventOf('im_v2_message_add'), generic, noDialog]) {
    await t.rejects(createReply(event, bitrix)('hi'), { name: 'BitrixError', code: 'NO_REPLY_DIALOG', fatal: true, transient: false, method: 'imbot.v2.Chat.Message.send', message: new RegExp(`${event.type} names no bot and dialog`) }, event.type)
  }
  t.same(calls, [])
})
