/** A number PHP holds as a float (`1.0`, `1e3`, an integer past 64 bits), whatever its value. */
export class PhpFloat {
  readonly value: number
  constructor(value: number) {
    this.value = value
  }
}

const PRECISION = 14

/**
 * Formats a float as PHP's `%.14G` (the `precision` ini), which `http_build_query` uses:
 * 14 significant digits rounded half to even, trailing zeros dropped, exponent form `1.0E+20`
 * when the exponent is below -4 or above 14.
 */
export function formatPhpFloat(value: number): string {
  if (Number.isNaN(value)) return 'NAN'
  if (!Number.isFinite(value)) return value > 0 ? 'INF' : '-INF'
  if (value === 0) return Object.is(value, -0) ? '-0' : '0'
  const sign = value < 0 ? '-' : ''
  const { digits, exponent } = roundDigits(Math.abs(value))
  const point = exponent + 1 // digits before the decimal point
  if (point < -3 || point > PRECISION) {
    const tail = digits.length > 1 ? digits.slice(1) : '0'
    const e = point - 1
    return `${sign}${digits[0]}.${tail}E${e < 0 ? '-' : '+'}${Math.abs(e)}`
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`
  if (digits.length <= point) return sign + digits + '0'.repeat(point - digits.length)
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
}

// Significant digits (no trailing zeros) and decimal exponent of a positive finite number.
function roundDigits(value: number): { digits: string; exponent: number } {
  // 100 digits show every double exactly enough to see a tie at the 15th.
  const [exactMantissa, exactExponent] = value.toExponential(99).split('e') as [string, string]
  const exact = exactMantissa.replace('.', '')
  // toExponential rounds a tie away from zero; PHP's zend_dtoa rounds it to even.
  if (/^50*$/.test(exact.slice(PRECISION)) && Number(exact[PRECISION - 1]) % 2 === 0) {
    return { digits: trimZeros(exact.slice(0, PRECISION)), exponent: Number(exactExponent) }
  }
  const [mantissa, exponent] = value.toExponential(PRECISION - 1).split('e') as [string, string]
  return { digits: trimZeros(mantissa.replace('.', '')), exponent: Number(exponent) }
}

const trimZeros = (digits: string) => digits.replace(/0+$/, '')
