import t from 'tap'
import { pino } from 'pino'
import type { PortalRow } from '../schemas/portal.ts'
import { Credentials } from '../src/event/credentials.ts'
import { decodeBody } from '../src/event/decode-body.ts'
import { exampleBot } from '../src/example-bot.ts'
import { createContext } from '../src/router/create-context.ts'
import { readFixture } from './helpers.ts'

/** Dispatches a fixture's event to the example bot; its calls go to a recorder standing for the application's portal caller. */
async function answer(name: string, change: (data: Record<string, any>) => void = () => undefined) {
  const decoded = decodeBody(readFixture(`bitrix/${name}.body.txt`))
  change(decoded.event.data as Record<string, any>)
  const calls: Array<{ method: string; params: unknown }> = []
  const bitrix = { call: async <T>(method: string, params?: Record<string, unknown>) => (calls.push({ method, params }), { id: 1, uuidMap: {} } as T) }
  const row = { memberId: 'm', domain: 'some-domain.bitrix24.com', clientEndpoint: 'https://some-domain.bitrix24.com/rest/', status: 'active', scope: 'imbot', version: 3, expiresAt: null, installedAt: 0, updatedAt: 0 } as unknown as PortalRow
  const ctx = createContext({ ...decoded, delivery: { ...decoded.delivery, credentials: new Credentials() } }, pino({ level: 'silent' }), { app: { row, bitrix } })
  const { errors } = await exampleBot().dispatch(decoded.event, ctx)
  return { calls, errors }
}

t.test('answers a message with ctx.reply: an echo in its dialog, as an answer to it', async (t) => {
  const { calls, errors } = await answer('imbot_v2_message_add_webhook')
  t.same(errors, [])
  t.match(calls, [{ method: 'imbot.v2.Chat.Message.send', params: { botId: 456, dialogId: 'chat5', fields: { message: 'You wrote: Hello bot!', replyId: Number } } }])
  const fileOnly = await answer('imbot_v2_message_add_webhook', (data) => (data.message.text = ''))
  t.match(fileOnly.calls, [{ params: { fields: { message: 'I got your message.' } } }])
})

t.test('answers a command with imbot.v2.Command.answer, with its arguments if any', async (t) => {
  const { calls } = await answer('imbot_v2_command_add_webhook')
  t.match(calls, [{ method: 'imbot.v2.Command.answer', params: { commandId: Number, messageId: Number, dialogId: 'chat5', fields: { message: /^Command \/help with "/ } } }])
  const bare = await answer('imbot_v2_command_add_webhook', (data) => (data.command.params = ' '))
  t.match(bare.calls, [{ params: { fields: { message: 'Command /help received.' } } }])
})
