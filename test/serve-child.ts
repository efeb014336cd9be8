import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

// The CLI from the TypeScript sources through the tests' own loader, so that a test never runs a
// stale build (test/bin.test.ts and test/package.test.ts cover the built command).
const devBin = fileURLToPath(new URL('../bin/dev.ts', import.meta.url))
const loader = import.meta.resolve('./loader/register.mjs')

/**
 * The environment a user's shell would give a child: without tap's loaders and coverage (whose
 * view of the child's sources would not line up with the in-process tests' own) and without the
 * variables of an enclosing `npm test`.
 */
export function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  const inherited = Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !/^(NODE_OPTIONS|NODE_V8_COVERAGE|_?TAP|npm_)/.test(entry[0]))
  return { ...Object.fromEntries(inherited), ...extra }
}

export interface WatchedChild {
  child: ChildProcess
  /** Its exit code (or `null` when a signal ended it). */
  exited: Promise<number | null>
  /** Everything it has written to stdout so far. */
  output(): string
  /**
   * Resolves with the first match of `pattern` in its stdout, seen already or to come; rejects with
   * its output as soon as it exits or fails to spawn first, or after `timeoutMs`.
   */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>
  /** Resolves with its exit code; rejects with its output when it is still running after `timeoutMs`. */
  waitForExit(timeoutMs?: number): Promise<number | null>
}

/** Follows a child spawned with piped stdout and stderr; stderr is also passed on to ours. */
export function watchChild(child: ChildProcess, name = 'the child'): WatchedChild {
  let stdout = ''
  let stderr = ''
  let ended: string | null = null
  let closed: { code: number | null } | undefined
  const listeners = new Set<() => void>()
  const notify = () => listeners.forEach((listener) => listener())
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
    notify()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    process.stderr.write(chunk)
  })
  // 'close' rather than 'exit': by then its last output has been read.
  child.on('close', (code, signal) => {
    ended = `exited with ${signal ?? `code ${code}`}`
    closed = { code }
    notify()
  })
  child.on('error', (error) => {
    ended = `failed: ${error.message}`
    notify()
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const failure = (what: string) => new Error(`${name} ${what}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`)

  const until = <T>(check: () => T | undefined, timeoutMs: number, before: string, late: string) =>
    new Promise<T>((resolve, reject) => {
      const done = () => {
        listeners.delete(listener)
        clearTimeout(timer)
      }
      const listener = () => {
        const value = check()
        if (value !== undefined) {
          done()
          resolve(value)
        } else if (ended !== null) {
          done()
          reject(failure(`${ended} before ${before}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(failure(`${late} within ${timeoutMs} ms`))
      }, timeoutMs)
      listeners.add(listener)
      listener()
    })

  return {
    child,
    exited,
    output: () => stdout,
    waitFor: (pattern, timeoutMs = 15000) => until(() => pattern.exec(stdout) ?? undefined, timeoutMs, `printing ${pattern}`, `did not print ${pattern}`),
    waitForExit: (timeoutMs = 5000) => until(() => closed?.code, timeoutMs, 'exiting', 'did not exit'),
  }
}

export interface ServedChild {
  child: ChildProcess
  /** Where it listens, from its startup log line. */
  url: string
  /** Its exit code (or `null` when a signal ended it). */
  exited: Promise<number | null>
  /** Everything it has logged so far. */
  output(): string
}

/**
 * `b24-receiver serve` in a child process, as an operator runs it; resolves once it listens.
 * Rejects with its output, and kills it, when it exits first or does not listen within `timeoutMs`.
 * `bin`: another build's `bin/b24-receiver.js` (an earlier release) instead of these sources.
 */
export async function serveChild(env: Record<string, string>, timeoutMs = 15000, bin?: string): Promise<ServedChild> {
  const args = bin === undefined ? ['--import', loader, devBin, 'serve'] : [bin, 'serve']
  const child = spawn(process.execPath, args, { env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  const watched = watchChild(child, 'b24-receiver serve')
  try {
    const [, url] = await watched.waitFor(/"url":"(http:[^"]+)"/, timeoutMs)
    return { child, url: url as string, exited: watched.exited, output: watched.output }
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
}
