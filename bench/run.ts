// Runs the benchmarks named on the command line (all by default) and prints their figures.
//   npm run bench            every benchmark
//   npm run bench -- decode  one of them
import { benchDecode, reportDecode } from './decode.ts'
import { benchFormScaling } from './form-scaling.ts'
import { benchIngest } from './ingest.ts'

const benchmarks: Record<string, () => string | Promise<string>> = {
  decode: () => reportDecode(benchDecode()),
  ingest: benchIngest,
  'form-scaling': benchFormScaling,
}

const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(benchmarks)
console.log(`node ${process.version}, ${new Date().toISOString()}`)
for (const name of names) {
  const run = benchmarks[name]
  if (!run) throw new Error(`no benchmark '${name}': ${Object.keys(benchmarks).join(', ')}`)
  console.log(`\n## ${name}\n${await run()}`)
}
