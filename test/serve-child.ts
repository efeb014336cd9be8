import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../bin/b24-receiver.js', import.meta.url))

export interface ServedChild {
  child: ChildProcess
  /** Where it listens, from its startup log line. */
  url: string
  /** Its exit code (or `null` when a signal ended it). */
  exited: Promise<number | null>
  /** Everything it has logged so far. */
  output(): string
}

/** `b24-receiver serve` in a child process, as an operator runs it; resolves once it listens. */
export function serveChild(env: Record<string, string>): Promise<ServedChild> {
  const child = spawn(process.execPath, [bin, 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  let output = ''
  let listening = false
  return new Promise((resolve) =>
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      // Looked for until found: the crash tests log thousands of lines after it.
      const found = listening ? null : /"url":"(http:[^"]+)"/.exec(output)
      if (!found) return
      listening = true
      resolve({ child, url: found[1] as string, exited, output: () => output })
    }),
  )
}
