// A server under test in a process of its own, the benchmark's half (the child's is
// bench/announce-server.ts). A process of its own: the load generator's work is not counted as
// the server's, its CPU time can be read from /proc, its peak memory is its own, and each round
// starts cold from a fresh one. Its stdout (the log) goes to a file, as to a log collector in
// production: a pipe read by the benchmark would make the server wait on the load generator's
// event loop. Its stderr is the benchmark's, so a server that fails to start says why.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { StopReport } from './announce-server.ts'

export interface ServerChild {
  /** Where it listens, e.g. `http://127.0.0.1:40123`. */
  url: string
  pid: number
  /** CPU time (user + system, all threads) it has used so far, ms. */
  cpuMs(): number
  /** SIGTERM, then what it reports (bench/announce-server.ts) once it has exited. */
  stop<T extends object = object>(): Promise<T & StopReport>
  /** Sends `question` over IPC and resolves with the child's next message: for a child that answers (bench/lag-receiver.ts); one question at a time, none while stopping. */
  ask<T>(question: unknown): Promise<T>
}

/** Starts `script` (a .ts file, through tsx) with `env` over the benchmark's own, its stdout to `logFile`. */
export async function serveChild(script: URL, env: Record<string, string>, logFile: string): Promise<ServerChild> {
  const log = openSync(logFile, 'w')
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(script)], { env: { ...process.env, ...env }, stdio: ['ignore', log, 'inherit', 'ipc'] })
  closeSync(log) // the child holds its own copy
  // A benchmark that fails half-way must not leave its server running on the shared machine.
  const killOnExit = () => child.kill()
  process.once('exit', killOnExit)
  child.once('exit', () => process.off('exit', killOnExit))
  const { url } = await nextMessage<{ url: string }>(child, script)
  const pid = child.pid as number
  return {
    url,
    pid,
    cpuMs: () => processCpuMs(pid),
    stop: async <T extends object>() => {
      const report = nextMessage<T & StopReport>(child, script)
      child.kill('SIGTERM')
      const value = await report
      if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve))
      return value
    },
    ask: <T>(question: unknown) => {
      const answer = nextMessage<T>(child, script)
      child.send(question as object)
      return answer
    },
  }
}

// The child's next IPC message; a child that exits first (a service that fails to start) is an error.
function nextMessage<T>(child: ChildProcess, script: URL): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) => {
      child.off('message', onMessage)
      reject(new Error(`${fileURLToPath(script)} exited (${signal ?? `code ${code}`}) before it reported`))
    }
    const onMessage = (value: unknown) => {
      child.off('exit', onExit)
      resolve(value as T)
    }
    child.once('message', onMessage)
    child.once('exit', onExit)
  })
}

// CPU time (user + system, all threads) a process has used, from /proc/PID/stat (Linux), where
// it is counted in clock ticks of 10 ms: a round of seconds has hundreds of them.
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) * 10
}
