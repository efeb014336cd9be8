// Runs the benchmarks named on the command line (all by default) and prints their figures.
//   npm run bench                      every benchmark (about 6 minutes on a quiet machine, outbound's 4 and soak's 10)
//   npm run bench -- ingest drain      some of them
// Shorter runs: BENCH_ROUNDS, BENCH_SECONDS (ingest), BENCH_DRAIN_EVENTS, BENCH_DRAIN_ROUNDS
// (drain), BENCH_KEEP_PACE_SCALE (keep-pace), OUTBOUND_N (outbound), SOAK_MINUTES (soak); each benchmark's file says more.
// Each benchmark is imported only when it runs: one that reaches into internals being reworked
// (decode, form-scaling) then cannot stop the others from running.
const benchmarks: Record<string, () => Promise<string>> = {
  decode: async () => {
    const { benchDecode, reportDecode } = await import('./decode.ts')
    return reportDecode(benchDecode())
  },
  ingest: async () => (await import('./ingest.ts')).benchIngest(),
  drain: async () => (await import('./drain.ts')).benchDrain(),
  'keep-pace': async () => (await import('./keep-pace.ts')).benchKeepPace(),
  'form-scaling': async () => (await import('./form-scaling.ts')).benchFormScaling(),
  'append-cost': async () => (await import('./append-cost.ts')).benchAppendCost(),
  replicas: async () => (await import('./replicas.ts')).benchReplicas(),
  outbound: async () => (await import('./outbound.ts')).benchOutbound(),
  soak: async () => (await import('./soak.ts')).benchSoak(),
}

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(benchmarks)
for (const name of names) if (!benchmarks[name]) throw new Error(`no benchmark '${name}': ${Object.keys(benchmarks).join(', ')}`)
console.log(`node ${process.version}, ${new Date().toISOString()}`)
for (const name of names) {
  const start = performance.now()
  const report = await (benchmarks[name] as () => Promise<string>)()
  console.log(`\n## ${name} (${((performance.now() - start) / 1000).toFixed(0)} s)\n${report}`)
}
