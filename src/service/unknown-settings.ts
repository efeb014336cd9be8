import { EnvSchema } from '../../schemas/config.ts'

/** A variable that looks meant for the service but is none of its settings, with the setting it most likely means. */
export interface UnknownSetting {
  name: string
  likely: string | null
}

const SETTINGS = Object.keys(EnvSchema.properties)

/**
 * The variables of `env` the service would otherwise ignore in silence though they look meant for
 * it: every `B24_*` name it does not know (`B24_TEST_*` are the test suite's own), and any name one
 * typo away from a setting (`PORTT`, `LOG_LEVL`); one typo only there, so that the environment
 * every process has (`HOME` is two from `HOST`) is left alone.
 */
export function unknownSettings(env: Record<string, string | undefined>): UnknownSetting[] {
  const found: UnknownSetting[] = []
  for (const name of Object.keys(env).sort()) {
    if (SETTINGS.includes(name) || name.startsWith('B24_TEST_')) continue
    const [likely, distance] = nearest(name)
    if (name.startsWith('B24_')) found.push({ name, likely: distance <= 3 ? likely : null })
    else if (distance === 1) found.push({ name, likely })
  }
  return found
}

function nearest(name: string): [string, number] {
  let best: [string, number] = ['', Infinity]
  for (const setting of SETTINGS) {
    const distance = typos(name, setting)
    if (distance < best[1]) best = [setting, distance]
  }
  return best
}

/** Letters inserted, dropped, replaced or swapped with their neighbour to turn `a` into `b` (optimal string alignment). */
function typos(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[]
      const above = d[i - 1] as number[]
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1)
    }
  }
  return (d[a.length] as number[])[b.length] as number
}
