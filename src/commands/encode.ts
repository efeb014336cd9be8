import { encodeForm } from '../wire/encode-form.ts'
import { readPhpJson } from '../wire/read-php-json.ts'
import { readText, type CommandIo } from './io.ts'

/**
 * `b24-receiver encode`: a JSON webhook payload on stdin, on stdout exactly the body PHP's
 * `http_build_query($payload, '', '&')` makes of it, with no trailing newline.
 */
export async function encode(_args: string[], io: CommandIo): Promise<number> {
  io.stdout.write(encodeForm(readPhpJson(await readText(io.stdin))))
  return 0
}
