import { Counter, Histogram, type Registry } from 'prom-client'
import type { RestObserver, RestOutcome } from '../bitrix/rest-observer.ts'
import { labelledCache } from './labelled-cache.ts'

/** Method families and codes given a series of their own; the rest share `other`. */
export const MAX_FAMILY_LABELS = 100
const MAX_CODE_LABELS = 20

/** From no wait to the minutes an operating-time hold can last. */
const WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600]

/**
 * A method's family, its label: the first three dotted words of a versioned method
 * (`imbot.v2.Chat.Message.send` → `imbot.v2.Chat`), else the first two (`crm.deal.add` → `crm.deal`).
 */
export function methodFamily(method: string): string {
  const words = method.split('.')
  return words.slice(0, /^v\d+$/.test(words[1] ?? '') ? 3 : 2).join('.')
}

/**
 * The REST calls handlers make: `b24_rest_calls_total{family, outcome}` (requests sent, a limited
 * one sent again counted twice), `b24_rest_limited_total{code}` (answers that refused a call for a
 * limit) and `b24_rest_wait_seconds{reason}` (how long a call waited before it was sent).
 */
export function restMetrics(registry: Registry): RestObserver {
  const registers = [registry]
  const calls = new Counter({ name: 'b24_rest_calls_total', help: 'Bitrix24 REST requests sent, by method family and outcome', labelNames: ['family', 'outcome'] as const, registers })
  const limited = new Counter({ name: 'b24_rest_limited_total', help: 'Bitrix24 REST answers that refused a call for a limit, by code', labelNames: ['code'] as const, registers })
  const waits = new Histogram({
    name: 'b24_rest_wait_seconds',
    help: "Time a Bitrix24 REST call waited before it was sent: for its portal's bucket, a held method, a method spaced out",
    labelNames: ['reason'] as const,
    buckets: WAIT_BUCKETS,
    registers,
  })
  const byFamily = labelledCache((family) => (outcome: RestOutcome) => calls.labels({ family, outcome }).inc(), MAX_FAMILY_LABELS)
  const byCode = labelledCache((code) => limited.labels({ code }), MAX_CODE_LABELS)
  return {
    called: (method, outcome) => byFamily(methodFamily(method))(outcome),
    limited: (code) => byCode(code).inc(),
    waited: (reason, seconds) => waits.labels({ reason }).observe(seconds),
  }
}
