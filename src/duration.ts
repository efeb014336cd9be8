const UNITS = { d: 86_400_000, h: 3_600_000, m: 60_000 } as const

/**
 * A duration as an operator writes it, a whole number of days, hours or minutes (`30d`, `12h`,
 * `90m`), in ms; `null` for anything else (no sign, no fraction, no other unit, no space).
 */
export function parseDuration(text: string): number | null {
  const match = /^([0-9]{1,9})([dhm])$/.exec(text)
  if (!match) return null
  return Number(match[1]) * UNITS[match[2] as keyof typeof UNITS]
}

/** A duration in ms as {@link parseDuration} reads it, in its largest whole unit (`30d`, `36h`), else in ms (`1500ms`). */
export function describeDuration(ms: number): string {
  for (const [unit, size] of Object.entries(UNITS)) if (ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}
