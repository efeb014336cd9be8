import type { Logger } from 'pino'
import type { Portal } from '../../schemas/portal.ts'

/** Says, now and then, which portal's events are refused for their token. */
export type RefusalLog = (portal: Portal, code: string) => void

/** At most this many portals remembered: a flood of made-up portals only restarts the count. */
const MAX_PORTALS = 1000

/**
 * A 401 alone leaves an operator with a request line: this warns which portal was refused and
 * what decides, once per portal every `intervalMs`, with how many refusals it did not tell.
 */
export function createRefusalLog(logger: Logger, intervalMs = 60_000, now = Date.now): RefusalLog {
  const told = new Map<string, { at: number; untold: number }>()
  return (portal, code) => {
    const key = `${portal.memberId ?? '-'} ${portal.domain ?? '-'}`
    const last = told.get(key)
    if (last && now() - last.at < intervalMs) {
      last.untold++
      return
    }
    if (!last && told.size >= MAX_PORTALS) told.clear()
    told.set(key, { at: now(), untold: 0 })
    logger.warn(
      { code, portal: { domain: portal.domain, memberId: portal.memberId }, refusedBefore: last?.untold ?? 0 },
      `refused an event of ${portal.domain ?? 'a portal that names no domain'} with 401 (${code}): B24_APP_TOKENS (or the application's installs) decides which application tokens are accepted`,
    )
  }
}
