import t from 'tap'
import { pino } from 'pino'
import { decodeBody } from '../../src/event/decode-body.ts'
import { createContext } from '../../src/router/create-context.ts'
import { logEvent } from '../../src/sinks/log-event.ts'
import { captureLogs, readFixture } from '../helpers.ts'

const inbound = (name: string) => decodeBody(readFixture(`bitrix/${name}.body.txt`))

t.test('logs one concise line per event, the text only at debug', async (t) => {
  const info = captureLogs()
  const input = inbound('imbot_v2_message_add_webhook')
  logEvent(input.event, createContext(input, pino({ level: 'info' }, info.stream)))
  t.match(info.parsed(), [{ msg: 'event', type: 'ONIMBOTV2MESSAGEADD', portal: 'some-domain.bitrix24.com', chat: 'chat5', messageId: 789, source: 'webhook', attempt: 1 }])
  t.notOk(info.text().includes('Hello bot'))
  const debug = captureLogs()
  logEvent(input.event, createContext(input, pino({ level: 'debug' }, debug.stream)))
  t.match(debug.parsed(), [{ text: 'Hello bot!' }])
  const deleted = inbound('im_v2_message_delete')
  const bot = inbound('imbot_v2_delete_webhook')
  const join_ = inbound('imbot_v2_join_chat_webhook')
  for (const input of [deleted, bot, join_]) logEvent(input.event, createContext(input, pino({ level: 'debug' }, debug.stream)))
  t.match(debug.parsed().slice(1), [{ chat: 'chat5', messageId: 5012 }, { type: 'ONIMBOTV2DELETE' }, { chat: 'chat5' }])
  t.notOk('text' in (debug.parsed()[2] as object))
})
