import t from 'tap'
import { formatPhpFloat } from '../../src/wire/php-float.ts'

t.test('formats floats as PHP %.14G', async (t) => {
  const cases: Array<[number, string]> = [
    [0.1 + 0.2, '0.3'],
    [1e20, '1.0E+20'],
    [1e-5, '1.0E-5'],
    [0.0001, '0.0001'],
    [1.5, '1.5'],
    [-0.5, '-0.5'],
    [0, '0'],
    [-0, '-0'],
    [1e15, '1.0E+15'],
    [1e14, '1.0E+14'],
    [99999999999999, '99999999999999'],
    [123456789012345, '1.2345678901234E+14'],
    [123456789012355, '1.2345678901236E+14'],
    [0.000123456789012345678, '0.00012345678901235'],
    [1.7976931348623157e308, '1.7976931348623E+308'],
    [5e-324, '4.9406564584125E-324'],
    [9.99999999999995, '10'],
    [2.5e-7, '2.5E-7'],
  ]
  for (const [value, php] of cases) t.equal(formatPhpFloat(value), php, String(value))
})

t.test('names the values JSON cannot hold as PHP does', async (t) => {
  t.equal(formatPhpFloat(Number.NaN), 'NAN')
  t.equal(formatPhpFloat(Infinity), 'INF')
  t.equal(formatPhpFloat(-Infinity), '-INF')
})
