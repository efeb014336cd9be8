import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { pino, type LoggerOptions, type TransportSingleOptions } from 'pino'
import { createLogger } from '../../src/log/create-logger.ts'
import { decodeBody } from '../../src/event/decode-body.ts'
import { captureLogs, readFixture } from '../helpers.ts'

t.test('redacts every path that can hold a token, whatever a log call passes', async (t) => {
  const logs = captureLogs()
  const logger = createLogger({ level: 'info' }, logs.stream)
  const payload = JSON.parse(readFixture('bitrix/capture_imbot_v2_message_add_2026_09_16.payload.json')) as Record<string, unknown>
  logger.info(payload, 'a careless call')
  logger.info({ payload }, 'nested')
  logger.info({ req: { headers: { authorization: 'Bearer abc', cookie: 'c=1' } }, token: 'x', access_token: 'y', body: 'z' }, 'headers')
  logger.info(decodeBody(readFixture('bitrix/capture_imbot_v2_message_add_2026_09_16.body.txt')), 'an inbound event')
  for (const secret of ['accesstoken', 'refreshtoken', 'c76f868e', 'Bearer abc', 'c=1']) t.notOk(logs.text().includes(secret), secret)
  t.match(logs.parsed()[0], { auth: '[redacted]', data: { bot: { auth: '[redacted]' } }, service: 'b24-receiver' })
})

t.test('writes human-readable lines when asked, redacted all the same', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'b24-pretty-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'pretty.log')
  // pino as createLogger sees it, except that the transport it asks for writes to a file, not stdout.
  let transport: ReturnType<typeof pino.transport> | undefined
  const toFile = (options: LoggerOptions) => {
    const { transport: asked, ...rest } = options
    if (!asked) throw new Error('createLogger asked for no pretty transport')
    const { target, options: pretty } = asked as TransportSingleOptions
    transport = pino.transport({ target, options: { ...pretty, destination: file, sync: true, colorize: false } })
    return pino(rest, transport)
  }
  const { createLogger: create } = await t.mockImport<typeof import('../../src/log/create-logger.ts')>('../../src/log/create-logger.ts', { pino: { pino: toFile } })
  // UTC+05:30: a clock no UTC time shows, to see that lines carry the developer's local time.
  const zone = process.env.TZ
  process.env.TZ = 'Asia/Kolkata'
  t.teardown(() => (zone === undefined ? delete process.env.TZ : (process.env.TZ = zone)))
  const logger = create({ level: 'info', pretty: true })
  const before = Date.now()
  logger.info({ chatId: 5, auth: { access_token: 'secret-token' } }, 'an event arrived')
  const after = Date.now()
  logger.debug('below the level')
  if (!transport) throw new Error('createLogger asked for no transport')
  t.teardown(() => transport?.end())
  // Resolves once the transport's worker has written what was logged (its destination is sync).
  await new Promise<void>((resolve, reject) => logger.flush((error) => (error ? reject(error) : resolve())))
  const text = readFileSync(file, 'utf8')
  const seconds = Array.from({ length: Math.floor(after / 1000) - Math.floor(before / 1000) + 1 }, (_, i) => (Math.floor(before / 1000) + i) * 1000)
  const clocks = seconds.map((ms) => new Date(ms).toLocaleTimeString('en-GB', { timeZone: 'Asia/Kolkata', hour12: false }))
  t.match(text, new RegExp(`^\\[(?:${clocks.join('|')})\\.\\d{3}\\] INFO: an event arrived\\n`), 'local time of day, level and message first')
  t.match(text, /\n +chatId: 5\n/)
  t.match(text, /\n +auth: "\[redacted\]"\n/)
  t.notMatch(text, /secret-token|service|b24-receiver|hostname|pid|below the level|^\{/m)
})
