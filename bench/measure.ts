import { performance } from 'node:perf_hooks'
import { percentile } from './percentile.ts'

/** Median, p10 and p90 of per-operation times in microseconds over interleaved rounds. */
export interface Timing {
  name: string
  medianUs: number
  p10Us: number
  p90Us: number
}

/**
 * Times several functions side by side: each round runs every function `batch` times in turn,
 * so a noisy neighbour slows them all alike; reports per-call figures over the rounds.
 */
export function measure(cases: Record<string, () => unknown>, { rounds = 41, batch = 2000, warmup = 20000 } = {}): Timing[] {
  const names = Object.keys(cases)
  for (const name of names) for (let i = 0; i < warmup; i++) (cases[name] as () => unknown)()
  const samples = new Map<string, number[]>(names.map((name) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const run = cases[name] as () => unknown
      const start = performance.now()
      for (let i = 0; i < batch; i++) run()
      samples.get(name)?.push(((performance.now() - start) * 1000) / batch)
    }
  }
  return names.map((name) => {
    const times = samples.get(name) as number[]
    return { name, medianUs: percentile(times, 0.5), p10Us: percentile(times, 0.1), p90Us: percentile(times, 0.9) }
  })
}
