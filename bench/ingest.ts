// Ingest throughput of the captured 4.6 KB event, b24-receiver (inbox on) against the naive
// receiver, side by side: rounds alternate between the two, each a fresh server process loaded by
// autocannon from this process with distinct events (new message id and text each request, so
// dedup stores every one).
//   npm run bench -- ingest
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
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

async function round(script: string, env: Record<string, string>, load: string[]): Promise<Round> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const lines: string[] = []
  let buffer = ''
  const nextLine = () =>
    new Promise<string>((resolve) => {
      const check = () => {
        const found = lines.shift()
        if (found) resolve(found)
        else setTimeout(check, 10)
      }
      check()
    })
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString()
    const parts = buffer.split('\n')
    buffer = parts.pop() as string
    lines.push(...parts.filter((line) => line.startsWith('{"url"') || line.startsWith('{"maxRssMb"')))
  })
  const { url } = JSON.parse(await nextLine()) as { url: string }
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
  child.kill('SIGTERM')
  const { maxRssMb } = JSON.parse(await nextLine()) as { maxRssMb: number }
  return { requestsPerSecond: result.requests.average, p50Ms: result.latency.p50, p99Ms: result.latency.p99, maxRssMb, non2xx: result.non2xx }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number

export async function benchIngest(): Promise<string> {
  const load = bodies(200_000)
  const token = 'c76f868e000000000000000000000000'
  const naive: Round[] = []
  const ours: Round[] = []
  const dirs: string[] = []
  for (let i = 0; i < ROUNDS; i++) {
    naive.push(await round(new URL('./naive-receiver.ts', import.meta.url).pathname, {}, load))
    const dataDir = mkdtempSync(join(tmpdir(), 'b24-bench-'))
    dirs.push(dataDir)
    ours.push(await round(new URL('./service-receiver.ts', import.meta.url).pathname, { PORT: '0', DATA_DIR: dataDir, B24_APP_TOKENS: token, LOG_LEVEL: 'warn' }, load))
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  const summary = (name: string, rounds: Round[]) =>
    `${name.padEnd(34)} ${median(rounds.map((r) => r.requestsPerSecond)).toFixed(0).padStart(6)} req/s  p50 ${median(rounds.map((r) => r.p50Ms))} ms  p99 ${median(rounds.map((r) => r.p99Ms))} ms  peak RSS ${median(rounds.map((r) => r.maxRssMb))} MB  non-2xx ${rounds.reduce((sum, r) => sum + r.non2xx, 0)}  (rounds: ${rounds.map((r) => r.requestsPerSecond.toFixed(0)).join(', ')})`
  const ratio = median(ours.map((r) => r.requestsPerSecond)) / median(naive.map((r) => r.requestsPerSecond))
  return [
    `${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections, distinct 4.6 KB events`,
    summary('naive (formbody + 200)', naive),
    summary('b24-receiver (inbox, process durability)', ours),
    `ratio: b24-receiver keeps ${(ratio * 100).toFixed(0)}% of the naive throughput (medians)`,
  ].join('\n')
}
