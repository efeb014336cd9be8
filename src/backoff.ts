/**
 * The pause before retry number `attempt` (1 after the first failure): exponential from `baseMs`,
 * capped at `maxMs`, with jitter (between half and all of it) so failed events do not return
 * in lockstep.
 */
export function backoff(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1))
  return Math.round(ceiling / 2 + (ceiling / 2) * random())
}
