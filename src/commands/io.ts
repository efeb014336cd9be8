import type { Readable, Writable } from 'node:stream'

/** The streams a command talks through; tests pass their own. */
export interface CommandIo {
  stdin: Readable
  stdout: Writable
  stderr: Writable
  /** The environment (`process.env` from the command line). */
  env: Record<string, string | undefined>
}

/** Reads a whole stream as UTF-8 text. */
export async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}
