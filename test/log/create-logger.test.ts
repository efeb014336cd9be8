import t from 'tap'
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

t.test('writes human-readable lines when asked', async (t) => {
  const logger = createLogger({ level: 'info', pretty: true })
  t.equal(typeof logger.info, 'function')
  logger.flush()
})
