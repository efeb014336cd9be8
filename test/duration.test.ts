import t from 'tap'
import { describeDuration, parseDuration } from '../src/duration.ts'

t.test('reads whole days, hours and minutes, nothing else', async (t) => {
  t.equal(parseDuration('30d'), 30 * 86_400_000)
  t.equal(parseDuration('12h'), 12 * 3_600_000)
  t.equal(parseDuration('90m'), 90 * 60_000)
  t.equal(parseDuration('0m'), 0)
  for (const bad of ['', '30', 'd', '-1d', '+1d', '1.5d', '1 d', ' 1d', '1d ', '1D', '1s', '1w', '1dd', '1d2h', '1234567890d', '１d']) t.equal(parseDuration(bad), null, JSON.stringify(bad))
})

t.test('says a duration in its largest whole unit, as it reads them back', async (t) => {
  t.equal(describeDuration(30 * 86_400_000), '30d')
  t.equal(describeDuration(36 * 3_600_000), '36h')
  t.equal(describeDuration(90 * 60_000), '90m')
  t.equal(describeDuration(0), '0d')
  t.equal(describeDuration(1500), '1500ms')
  for (const text of ['30d', '12h', '90m']) t.equal(describeDuration(parseDuration(text) as number), text)
})
