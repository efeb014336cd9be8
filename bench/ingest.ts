// Ingest throughput of the captured 4.6 KB event, b24-receiver (inbox on) against the naive
// receiver, side by side: rounds alternate between the two, each a fresh server process loaded by
// autocannon from this process with distinct events (new message id and text each request, so
// dedup stores every one). Also the server's CPU time per request, steadier than req/s on a
// shared machine.
//   npm run bench -- ingest
import { spawn } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { encodeForm, type PhpValue } from '../src/wire/encode-form.ts'
import { readPhpJson } from '../src/wire/read-php-json.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = 16

interface Round {
  requestsPerSecond: number
  p50Ms: number
  p99Ms: number
  maxRssMb: number
  non2xx: number
  /** Server CPU time (all its threads) per request answered. */
  cpuUsPerRequest: number
}

function bodies(count: number): string[] {
  const payload = readPhpJson(readFileSync(new URL('../test/fixtures/bitrix/capture_imbot_v2_message_add_2026_09_16.payload.json', import.meta.url), 'utf8')) as Map<string, PhpValue>
  const data = payload.get('data') as Map<string, PhpValue>
  const message = data.get('message') as Map<string, PhpValue>
  return Array.from({ length: count }, (_, i) => {
    message.set('id', String(2_000_000 + i))
    message.set('text', `сообщение номер ${i}`)
    return encodeForm(payload)
  })
}

async function round(script: string, env: Record<string, string>, load: string[], logFile: string): Promise<Round> {
  // The server's log goes to a file, as to a log collector in production: a pipe read by this
  // process would make the server wait on autocannon's event loop. Its URL comes over IPC.
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', openSync(logFile, 'w'), 'inherit', 'ipc'] })
  const message = <T>() => new Promise<T>((resolve) => child.once('message', (value) => resolve(value as T)))
  const { url } = await message<{ url: string }>()
  const cpuBefore = cpuMs(child.pid as number)
  let next = 0
  const result = await autocannon({
    url: `${url}/webhook`,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' },
        setupRequest: (request) => ({ ...request, body: load[next++ % load.length] }),
      },
    ],
  })
  const cpuUsPerRequest = ((cpuMs(child.pid as number) - cpuBefore) * 1000) / result.requests.total
  const exited = message<{ maxRssMb: number }>()
  child.kill('SIGTERM')
  const { maxRssMb } = await exited
  return { requestsPerSecond: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, maxRssMb, non2xx: result.non2xx, cpuUsPerRequest }
}

// CPU time (user + system, all threads) a process has used so far, from /proc/PID/stat on Linux,
// where it is counted in ticks of 10 ms.
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number

export async function benchIngest(): Promise<string> {
  const load = bodies(200_000)
  const token = 'c76f868e000000000000000000000000'
  const naive: Round[] = []
  const ours: Round[] = []
  const dirs: string[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'b24-bench-'))
    dirs.push(dataDir)
    naive.push(await round(new URL('./naive-receiver.ts', import.meta.url).pathname, {}, load, join(dataDir, 'naive.log')))
    // The service as it ships: default log level (a line per request and per event).
    ours.push(await round(new URL('./service-receiver.ts', import.meta.url).pathname, { PORT: '0', DATA_DIR: dataDir, B24_APP_TOKENS: token }, load, join(dataDir, 'service.log')))
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  const summary = (name: string, rounds: Round[]) =>
    `${name.padEnd(34)} ${median(rounds.map((r) => r.requestsPerSecond)).toFixed(0).padStart(6)} req/s  p50 ${median(rounds.map((r) => r.p50Ms))} ms  p99 ${median(rounds.map((r) => r.p99Ms))} ms  peak RSS ${median(rounds.map((r) => r.maxRssMb))} MB  CPU ${median(rounds.map((r) => r.cpuUsPerRequest)).toFixed(0)} µs/req  non-2xx ${rounds.reduce((sum, r) => sum + r.non2xx, 0)}  (rounds: ${rounds.map((r) => r.requestsPerSecond.toFixed(0)).join(', ')})`
  const ratio = median(ours.map((r) => r.requestsPerSecond)) / median(naive.map((r) => r.requestsPerSecond))
  return [
    `${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections, distinct 4.6 KB events`,
    summary('naive (formbody + 200)', naive),
    summary('b24-receiver (inbox, process durability)', ours),
    `ratio: b24-receiver keeps ${(ratio * 100).toFixed(0)}% of the naive throughput (medians); per round: ${ours.map((r, i) => ((100 * r.requestsPerSecond) / (naive[i] as Round).requestsPerSecond).toFixed(0) + '%').join(', ')}`,
  ].join('\n')
}
