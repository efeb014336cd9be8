import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { PassThrough, Readable, Writable } from 'node:stream'
import { runCli } from '../src/cli.ts'
import type { Readiness } from '../routes/health.ts'
import { buildApp } from '../src/app.ts'
import { createTokenSet } from '../src/auth/token-set.ts'
import type { InboundEvent } from '../src/event/inbound-event.ts'
import { createLogger } from '../src/log/create-logger.ts'
import { openPipeline } from '../src/pipeline/open-pipeline.ts'
import { Router } from '../src/router/router.ts'

const fixtures = new URL('./fixtures/', import.meta.url)

/** Reads a file under test/fixtures as text. */
export const readFixture = (name: string): string => readFileSync(new URL(name, fixtures), 'utf8')

/** The names of the real Bitrix24 cases in test/fixtures/bitrix (`<case>.body.txt` + `<case>.payload.json`). */
export const bitrixCases = (): string[] =>
  readdirSync(new URL('bitrix/', fixtures))
    .filter((name) => name.endsWith('.body.txt'))
    .map((name) => name.slice(0, -'.body.txt'.length))
    .sort()

/** A JSON round trip: what a value looks like to anyone who reads it as JSON (loosely typed, for assertions). */
export const asJson = (value: unknown): any => JSON.parse(JSON.stringify(value))

/** A pino destination that keeps every line, for assertions on logs. */
export function captureLogs() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean))
      done()
    },
  })
  return { stream, lines, text: () => lines.join('\n'), parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) }
}

export const APP_TOKEN = 'c76f868e000000000000000000000000'

/** A real HTTP server of the app, listening on a free loopback port, with its logs captured. */
export async function startTestApp(options: { tokens?: string[]; bodyLimit?: number; router?: Router; dataDir?: string } = {}) {
  const logs = captureLogs()
  const logger = createLogger({ level: 'debug' }, logs.stream)
  const router = options.router ?? new Router()
  const handled: InboundEvent['event'][] = []
  router.onAny((event) => void handled.push(event))
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'b24-test-'))
  const pipeline = openPipeline({ dataDir, ...TEST_SETTINGS }, router, logger)
  let readiness: Readiness = { ready: true, reason: null }
  const app = await buildApp({ bodyLimit: options.bodyLimit ?? 1048576 }, { logger, tokens: createTokenSet(options.tokens ?? [APP_TOKEN]), pipeline, readiness: () => readiness })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const url = `http://127.0.0.1:${port}`
  return {
    app,
    url,
    logs,
    pipeline,
    handled,
    setReadiness: (state: Readiness) => void (readiness = state),
    post: (body: string, contentType = 'application/x-www-form-urlencoded') =>
      fetch(`${url}/webhook`, { method: 'POST', headers: { 'content-type': contentType, 'user-agent': 'Bitrix24 Webhook Engine' }, body }),
    close: async () => {
      await app.close()
      await pipeline.drain(1000)
      pipeline.close()
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Inbox and worker settings for tests: quick retries. */
export const TEST_SETTINGS = {
  inbox: { durability: 'process' as const, dedupWindowMs: 86400000 },
  worker: { concurrency: 4, handlerTimeoutMs: 5000, maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 50 },
}

/** Waits until `check` holds, polling; fails after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Runs a CLI command in process, as a user would from a shell; what it printed and its exit code. */
export async function runCommand(argv: string[], options: { input?: string; env?: Record<string, string | undefined>; tty?: boolean } = {}) {
  const stdout = Object.assign(new PassThrough(), { isTTY: options.tty ?? false })
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
  const code = await runCli(argv, { stdin: Readable.from([Buffer.from(options.input ?? '')]), stdout, stderr, env: options.env ?? {} })
  return { code, out, err }
}
