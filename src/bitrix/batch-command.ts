import { encodeForm, type PhpValue } from '../wire/encode-form.ts'
import type { RestParams } from './rest-client.ts'

/**
 * One command of a `batch` request's `cmd`: `method?query`, the query as PHP's `http_build_query`
 * writes it (how-to-call-rest-api/data-encoding.md, "Double URL Encoding": the command is encoded
 * once more as a value of the JSON body, which JSON does for us). `params` go through JSON first,
 * so a value reaches the portal as `call` would send it (`toJSON`, no `undefined`); then PHP's
 * rules: `true`/`false` become `1`/`0`, `null` and empty lists are left out.
 */
export function batchCommand(method: string, params: RestParams): string {
  const query = encodeForm(JSON.parse(JSON.stringify(params)) as PhpValue)
  return query === '' ? method : `${method}?${query}`
}
