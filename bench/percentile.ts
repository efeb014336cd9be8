// Order statistics shared by the benchmarks. Figures are medians over alternating rounds, so a
// noisy neighbour on the shared machine that slows one round does not move them; latencies are
// reported as percentiles of all samples.

/** The value at fraction `p` (0 to 1) of `values`, nearest rank from below; `NaN` for none. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
}

/** The middle value (the upper one of an even count). */
export const median = (values: ArrayLike<number>): number => percentile(values, 0.5)
