import t from 'tap'
import { pino } from 'pino'
import { createRefusalLog } from '../../src/auth/refusal-log.ts'
import { captureLogs } from '../helpers.ts'

const portal = (domain: string | null, memberId: string | null = 'm1') => ({ domain, memberId, clientEndpoint: null })

t.test('warns of a refused portal once a minute, with how many refusals it did not tell', async (t) => {
  const logs = captureLogs()
  let now = 0
  const refused = createRefusalLog(pino(logs.stream), 60_000, () => now)
  refused(portal('a.bitrix24.com'), 'INVALID_TOKEN')
  refused(portal('a.bitrix24.com'), 'INVALID_TOKEN')
  refused(portal(null, null), 'MISSING_TOKEN')
  now = 59_999
  refused(portal('a.bitrix24.com'), 'INVALID_TOKEN')
  now = 60_000
  refused(portal('a.bitrix24.com'), 'INVALID_TOKEN')
  t.match(logs.parsed(), [
    { level: 40, code: 'INVALID_TOKEN', portal: { domain: 'a.bitrix24.com', memberId: 'm1' }, refusedBefore: 0, msg: /^refused an event of a\.bitrix24\.com with 401 \(INVALID_TOKEN\): B24_APP_TOKENS/ },
    { code: 'MISSING_TOKEN', portal: { domain: null, memberId: null }, msg: /^refused an event of a portal that names no domain/ },
    { code: 'INVALID_TOKEN', refusedBefore: 2 },
  ])
  t.equal(logs.lines.length, 3)
})

t.test('remembers a bounded number of portals', async (t) => {
  const logs = captureLogs()
  const refused = createRefusalLog(pino(logs.stream), 60_000, () => 0)
  for (let i = 0; i <= 1000; i++) refused(portal(`p${i}.bitrix24.com`), 'INVALID_TOKEN')
  refused(portal('p0.bitrix24.com'), 'INVALID_TOKEN')
  t.equal(logs.lines.length, 1002, 'past the bound, the count starts again: the first portal is told again')
})
