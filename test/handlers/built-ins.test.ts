import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { pino } from 'pino'
import { decodeBody } from '../../src/event/decode-body.ts'
import { eventsFile } from '../../src/handlers/events-file.ts'
import { registerHandlers } from '../../src/handlers/index.ts'
import { logEvent } from '../../src/handlers/log-event.ts'
import { registerBuiltins } from '../../src/handlers/register-builtins.ts'
import { createContext } from '../../src/router/create-context.ts'
import { Router } from '../../src/router/router.ts'
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

t.test('appends one JSON line per event to EVENTS_FILE, in order, without credentials', async (t) => {
  const path = join(t.testdir(), 'deep', 'events.jsonl')
  const sink = eventsFile(path)
  const names = ['capture_imbot_v2_message_add_2026_09_16', 'im_v2_message_add', 'v1_onimbotmessageadd']
  const logger = pino({ level: 'silent' })
  await Promise.all(names.map((name) => inbound(name)).map((input) => sink(input.event, createContext(input, logger))))
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n')
  t.same(lines.map((line) => (JSON.parse(line) as { event: { type: string } }).event.type), ['ONIMBOTV2MESSAGEADD', 'ONIMV2MESSAGEADD', 'ONIMBOTMESSAGEADD'])
  t.match(JSON.parse(lines[0] as string), { delivery: { source: 'webhook', portal: { domain: 'teplodar.bitrix24.ru' }, attempt: 1 } })
  for (const secret of ['accesstoken', 'refreshtoken', 'c76f868e', '831c76b0', 'a98b9d69']) t.notOk(lines.join('').includes(secret))
})

t.test('writes an event once, across retries and restarts', async (t) => {
  const path = join(t.testdir(), 'events.jsonl')
  const logger = pino({ level: 'silent' })
  const inputs = ['im_v2_message_add', 'im_v2_message_update', 'im_v2_join_chat'].map(inbound)
  const first = eventsFile(path)
  await first(inputs[0]!.event, createContext(inputs[0]!, logger))
  await first(inputs[0]!.event, createContext(inputs[0]!, logger, 2))
  await first(inputs[1]!.event, createContext(inputs[1]!, logger))
  appendFileSync(path, '{"torn": \n\n{"event": "from an older version, no key"}\n')
  const lines = () => readFileSync(path, 'utf8').split('\n').filter((line) => line.startsWith('{"event"'))
  t.equal(lines().length, 3, 'a retry is not written again')
  const restarted = eventsFile(path)
  await restarted(inputs[1]!.event, createContext(inputs[1]!, logger))
  await restarted(inputs[2]!.event, createContext(inputs[2]!, logger))
  t.equal(lines().length, 4, 'nor after a restart')
  const shortMemory = eventsFile(path, { tailBytes: 10, keys: 1 })
  await shortMemory(inputs[0]!.event, createContext(inputs[0]!, logger))
  t.equal(lines().length, 5, 'only the tail of a long file is read')
  await shortMemory(inputs[1]!.event, createContext(inputs[1]!, logger))
  await shortMemory(inputs[0]!.event, createContext(inputs[0]!, logger))
  t.equal(lines().length, 7, 'and only so many keys are kept')
  t.match(JSON.parse(lines()[0] as string), { key: /^hook:/ })
})

t.test('a failed write is reported to its caller and does not block the next', async (t) => {
  const dir = t.testdir({ 'a-directory': {} })
  const sink = eventsFile(join(dir, 'a-directory'))
  const input = inbound('im_v2_message_add')
  const ctx = createContext(input, pino({ level: 'silent' }))
  await t.rejects(sink(input.event, ctx), { code: 'EISDIR' })
  await t.rejects(sink(input.event, ctx), { code: 'EISDIR' })
})

t.test('registers the built-ins and the example handlers', async (t) => {
  const logs = captureLogs()
  const path = join(t.testdir(), 'events.jsonl')
  const router = new Router()
  registerBuiltins(router, { eventsFile: path })
  registerHandlers(router)
  router.on('ONIMV2MESSAGEADD', () => {
    throw new Error('boom')
  })
  const input = inbound('im_v2_message_add')
  const result = await router.dispatch(input.event, createContext(input, pino({ level: 'debug' }, logs.stream)))
  t.equal(result.handled, 4)
  t.match(logs.parsed(), [{ msg: 'a message arrived', chatId: 5, from: 1, length: 15 }, { msg: 'a handler failed', err: { message: 'boom' } }, { msg: 'event' }])
  t.equal(readFileSync(path, 'utf8').split('\n').length, 2)
  const bare = new Router()
  registerBuiltins(bare, { eventsFile: null })
  t.equal((await bare.dispatch(input.event, createContext(input, pino({ level: 'silent' })))).handled, 1)
})
