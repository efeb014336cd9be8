import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { pino } from 'pino'
import { decodeBody } from '../../src/event/decode-body.ts'
import { createContext } from '../../src/router/create-context.ts'
import { eventsFile } from '../../src/sinks/events-file.ts'
import { readFixture } from '../helpers.ts'

const inbound = (name: string) => decodeBody(readFixture(`bitrix/${name}.body.txt`))

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
  await first(inputs[0]!.event, createContext(inputs[0]!, logger, { attempt: 2 }))
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

t.test('lines handed over together are written in one append, each event once', async (t) => {
  const path = join(t.testdir(), 'events.jsonl')
  const sink = eventsFile(path)
  const logger = pino({ level: 'silent' })
  const inputs = ['im_v2_message_add', 'im_v2_message_update', 'im_v2_message_add'].map(inbound)
  await Promise.all(inputs.map((input, i) => sink(input.event, createContext(input, logger, { attempt: i + 1 }))))
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n')
  t.same(lines.map((line) => (JSON.parse(line) as { event: { type: string } }).event.type), ['ONIMV2MESSAGEADD', 'ONIMV2MESSAGEUPDATE'], 'the same event twice in one batch: written once')
})

t.test('a write that fails once the file is open is reported, and the file opened again for the next', async (t) => {
  // Linux's /dev/full opens, then refuses every write with ENOSPC: a full disk.
  const sink = eventsFile('/dev/full')
  const input = inbound('im_v2_message_add')
  const ctx = createContext(input, pino({ level: 'silent' }))
  await t.rejects(sink(input.event, ctx), { code: 'ENOSPC' })
  await t.rejects(sink(input.event, ctx), { code: 'ENOSPC' })
})

t.test('two writers of one file (replicas): an event one wrote is not written again by the other, whenever each opened it', async (t) => {
  const path = join(t.testdir(), 'events.jsonl')
  const logger = pino({ level: 'silent' })
  const [a, b, c] = ['im_v2_message_add', 'im_v2_message_update', 'im_v2_join_chat'].map(inbound) as [ReturnType<typeof inbound>, ReturnType<typeof inbound>, ReturnType<typeof inbound>]
  const first = eventsFile(path)
  const second = eventsFile(path)
  await first(a.event, createContext(a, logger))
  await second(b.event, createContext(b, logger))
  // The first replica died after its line, before its event was marked done: the other handles it again.
  await second(a.event, createContext(a, logger))
  await first(b.event, createContext(b, logger))
  await first(c.event, createContext(c, logger))
  // A line still being written when the other reads (no newline yet) is read once it is whole.
  appendFileSync(path, '{"event": {}, "key": "being-wr')
  await second(c.event, createContext(c, logger))
  appendFileSync(path, 'itten"}\n')
  await second(a.event, createContext(a, logger))
  const keys = readFileSync(path, 'utf8').trimEnd().split('\n').map((line) => (JSON.parse(line) as { key: string }).key)
  t.same(keys, [a, b, c].map((input) => createContext(input, logger).key).concat('being-written'), 'each event once')
})
