import { ConfigError } from '../errors.ts'
import type { RestRate } from '../store/rest-buckets.ts'

export type { RestRate } from '../store/rest-buckets.ts'

/** Most plans': 2 a second, 50 before refusing. Enterprise's is `5/250`. */
export const DEFAULT_REST_RATE: RestRate = Object.freeze({ drainPerSecond: 2, threshold: 50 })

/** What `B24_REST_RATE` says: the rate of every portal, and those of the portals named apart (by host, lower case). */
export interface RestRates {
  rate: RestRate
  portals: Record<string, RestRate>
}

const RATE = /^(\d+(?:\.\d+)?)\/(\d+)$/
const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/

/**
 * Reads `DRAIN/THRESHOLD` (`2/50`, `5/250`), optionally followed by portals of another plan,
 * `,HOST=DRAIN/THRESHOLD` each (`2/50,big.bitrix24.com=5/250`): in application mode, portals
 * differ. Blanks around entries are ignored.
 * @throws {ConfigError} naming `name` for anything else: a drain that is not a positive number, a
 * threshold that is not a whole number of at least 1, a host given twice or not a host name.
 */
export function parseRestRate(text: string, name: string): RestRates {
  const [first = '', ...rest] = text.split(',').map((entry) => entry.trim())
  const expected = `${name} must be DRAIN/THRESHOLD (2/50; 5/250 for Enterprise), then optionally ,HOST=DRAIN/THRESHOLD per portal`
  const rate = readRate(first, expected)
  const portals: Record<string, RestRate> = {}
  for (const entry of rest) {
    const equals = entry.indexOf('=')
    const host = entry.slice(0, equals).trim().toLowerCase()
    if (equals < 0 || !HOST.test(host)) throw new ConfigError(`${expected}: ${JSON.stringify(entry.slice(0, 100))} names no host`)
    if (Object.hasOwn(portals, host)) throw new ConfigError(`${name}: ${host} is given twice`)
    portals[host] = readRate(entry.slice(equals + 1).trim(), `${expected} (for ${host})`)
  }
  return { rate, portals }
}

/** The rate of the portal at `host`: its own when named apart, else the common one. */
export const rateOf = (rates: RestRates, host: string): RestRate => (Object.hasOwn(rates.portals, host.toLowerCase()) ? (rates.portals[host.toLowerCase()] as RestRate) : rates.rate)

/** @throws {ConfigError} for a rate that cannot be a bucket's. */
function readRate(text: string, expected: string): RestRate {
  const match = RATE.exec(text)
  const drainPerSecond = Number(match?.[1])
  const threshold = Number(match?.[2])
  if (!match || !(drainPerSecond > 0) || !(threshold >= 1)) throw new ConfigError(`${expected}; got ${JSON.stringify(text.slice(0, 100))}`)
  return { drainPerSecond, threshold }
}

/**
 * Checks rates given as options (not parsed from text).
 * @throws {ConfigError} naming `name` for a drain that is not a positive number or a threshold that is not a whole number of at least 1.
 */
export function checkRestRate(rate: RestRate, name: string): RestRate {
  const { drainPerSecond, threshold } = rate
  if (!(Number.isFinite(drainPerSecond) && drainPerSecond > 0) || !(Number.isInteger(threshold) && threshold >= 1)) {
    throw new ConfigError(`${name} must be { drainPerSecond: a positive number, threshold: a whole number of at least 1 }`)
  }
  return { drainPerSecond, threshold }
}
