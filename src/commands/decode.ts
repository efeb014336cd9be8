import { decodeBody } from '../event/decode-body.ts'
import { readText, type CommandIo } from './io.ts'

/**
 * `b24-receiver decode`: a raw webhook body on stdin, the normalized event and its delivery
 * (credentials left out) as one JSON object on stdout. Pretty on a terminal, one line otherwise.
 */
export async function decode(_args: string[], io: CommandIo): Promise<number> {
  const inbound = decodeBody(await readText(io.stdin))
  const pretty = (io.stdout as { isTTY?: boolean }).isTTY === true
  io.stdout.write(JSON.stringify(inbound, null, pretty ? 2 : undefined) + '\n')
  return 0
}
