import { execFile } from 'node:child_process'
import { userEnv } from '../serve-child.ts'

export interface Ran {
  code: number
  stdout: string
  stderr: string
}

/** Runs a program to its end as a user's shell would (their environment, no tap loaders); never rejects. */
export const exec = (file: string, args: string[], options: { cwd: string; env?: Record<string, string>; input?: string; timeoutMs?: number }) =>
  new Promise<Ran>((resolve) => {
    const child = execFile(file, args, { cwd: options.cwd, env: options.env ?? userEnv(), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 300_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    )
    child.stdin?.end(options.input ?? '')
  })

/** The run's output when it succeeded; otherwise an error that shows all of it. */
export function succeeded(ran: Ran, what: string): Ran {
  if (ran.code !== 0) throw new Error(`${what} failed (${ran.code}):\n${ran.stdout}\n${ran.stderr}`)
  return ran
}
