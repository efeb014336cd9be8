import t from 'tap'
import { checkRestRate, DEFAULT_REST_RATE, parseRestRate, rateOf } from '../../src/bitrix/rest-rate.ts'
import { ConfigError } from '../../src/errors.ts'

t.test('DRAIN/THRESHOLD, then portals of another plan by host', async (t) => {
  t.same(DEFAULT_REST_RATE, { drainPerSecond: 2, threshold: 50 })
  t.same(parseRestRate('2/50', 'B24_REST_RATE'), { rate: { drainPerSecond: 2, threshold: 50 }, portals: {} })
  t.same(parseRestRate(' 0.5/10 ', 'B24_REST_RATE'), { rate: { drainPerSecond: 0.5, threshold: 10 }, portals: {} })
  const rates = parseRestRate('2/50, Big.Bitrix24.com=5/250 ,other.example.com = 1/20', 'B24_REST_RATE')
  t.same(rates, { rate: { drainPerSecond: 2, threshold: 50 }, portals: { 'big.bitrix24.com': { drainPerSecond: 5, threshold: 250 }, 'other.example.com': { drainPerSecond: 1, threshold: 20 } } })
  t.same(rateOf(rates, 'BIG.bitrix24.com'), { drainPerSecond: 5, threshold: 250 }, 'a host in any case')
  t.same(rateOf(rates, 'small.bitrix24.com'), { drainPerSecond: 2, threshold: 50 }, 'the others: the common rate')
  t.same(rateOf(rates, 'constructor'), { drainPerSecond: 2, threshold: 50 }, 'nothing inherited is a portal')
})

t.test('a bad value is a ConfigError naming the variable, never a long quote', async (t) => {
  for (const bad of ['', '2', '2/', '/50', '0/50', '2/0', '2/5.5', '-1/50', 'x/y', '2/50,', '2/50,=5/250', '2/50,big.bitrix24.com', '2/50,big.bitrix24.com=5', '2/50,bad host=5/250', '2/50,-x.com=5/250']) {
    t.throws(() => parseRestRate(bad, 'B24_REST_RATE'), ConfigError, JSON.stringify(bad))
    t.throws(() => parseRestRate(bad, 'B24_REST_RATE'), { message: /^B24_REST_RATE/ })
  }
  t.throws(() => parseRestRate('2/50,a.com=5/250,A.com=1/10', 'B24_REST_RATE'), { message: 'B24_REST_RATE: a.com is given twice' })
  t.throws(() => parseRestRate('2/50,a.com=5/x', 'B24_REST_RATE'), { message: /\(for a\.com\); got "5\/x"/ })
  const long = `2/50,${'a'.repeat(500)}`
  t.ok((() => { try { parseRestRate(long, 'B24_REST_RATE') } catch (error) { return (error as Error).message.length < 400 } })(), 'the value quoted is cut short')
})

t.test('a rate given as an option is checked', async (t) => {
  t.same(checkRestRate({ drainPerSecond: 5, threshold: 250 }, 'rest.rate'), { drainPerSecond: 5, threshold: 250 })
  for (const bad of [{ drainPerSecond: 0, threshold: 50 }, { drainPerSecond: Number.NaN, threshold: 50 }, { drainPerSecond: Infinity, threshold: 50 }, { drainPerSecond: 2, threshold: 0 }, { drainPerSecond: 2, threshold: 1.5 }]) {
    t.throws(() => checkRestRate(bad, 'rest.rate'), { name: 'ConfigError', message: /^rest\.rate must be/ })
  }
})
