import { readdirSync, readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { PassThrough, Readable, Writable } from 'node:stream'
import Fastify, { type FastifyBaseLogger, type InjectOptions } from 'fastify'
import { runCli } from '../src/cli.ts'
import type { NormalizedEvent } from '../src/event/decoded-event.ts'
import { createLogger } from '../src/log/create-logger.ts'
import { b24Receiver } from '../src/plugin.ts'
import { createReceiver } from '../src/receiver/receiver.ts'
import type { ReceiverOptions } from '../src/receiver/receiver-options.ts'
import { MemoryStore } from './fakes/memory-store.ts'

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

/** The key tests seal credentials with (B24_SECRET_KEY's hex form). */
export const SECRET_KEY = '07'.repeat(32)

/** Worker settings for tests: quick retries. */
export const TEST_WORKER = { concurrency: 4, handlerTimeoutMs: 5000, maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 50 }

/**
 * A receiver mounted in a Fastify app (with its health routes), driven through `app.inject`; its
 * store in memory unless a `dataDir` (the embedded SQLite store) or a `store` is given; every
 * handled event kept in `handled`, every log line in `logs`.
 */
export async function startTestApp(options: Partial<ReceiverOptions> = {}) {
  const logs = captureLogs()
  const logger = createLogger({ level: 'debug' }, logs.stream)
  // The fake store unless the test brings a store or the embedded one (`dataDir`).
  const store = (options.store ?? (options.dataDir ? undefined : new MemoryStore())) as MemoryStore | undefined
  const receiver = createReceiver({ tokens: [APP_TOKEN], worker: TEST_WORKER, secretKey: store ? SECRET_KEY : undefined, ...options, store, logger })
  const handled: NormalizedEvent[] = []
  receiver.onAny((event) => void handled.push(event))
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger })
  await app.register(b24Receiver, { receiver, path: '/webhook', health: true })
  await app.ready()
  const inject = async (request: InjectOptions) => {
    const response = await app.inject(request)
    return { status: response.statusCode, headers: response.headers, json: async () => response.json(), text: async () => response.body }
  }
  return {
    app,
    receiver,
    store,
    logs,
    handled,
    inject,
    post: (body: string, contentType = 'application/x-www-form-urlencoded') =>
      inject({ method: 'POST', url: '/webhook', headers: { 'content-type': contentType, 'user-agent': 'Bitrix24 Webhook Engine' }, payload: body }),
    /** Listens on a free loopback port, for what must go over real HTTP (the CLI); its base URL. */
    listen: async () => {
      await app.listen({ port: 0, host: '127.0.0.1' })
      return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    },
    close: () => app.close(),
  }
}

/**
 * Waits until `check` holds, polling; fails after `timeoutMs`. The timeout only bounds how long a
 * failing test waits, it checks no speed: 10 s by default, so that a loaded machine is not a failure.
 */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!(await check())) {
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
