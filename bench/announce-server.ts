// The child's half of bench/serve-child.ts: a server run by a benchmark tells it where it listens,
// and when told to stop (SIGTERM) sends its peak memory, and whatever else it measured, before
// it exits. Only the child can read its own peak RSS, and only it can see its handlers run.

/** What every server child reports when it stops. */
export interface StopReport {
  /** Peak resident memory of the whole process, MB. */
  maxRssMb: number
}

/** Sends `{ url }` to the parent now, and `StopReport & report()` on SIGTERM, then exits. */
export function announceServer(url: string, report: () => object = () => ({})): void {
  process.send?.({ url })
  process.once('SIGTERM', () => {
    const final: StopReport = { maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }
    process.send?.({ ...report(), ...final }, () => process.exit(0))
  })
}
