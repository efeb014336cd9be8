import { parseArgs } from 'node:util'
import { isChatEventType, CHAT_EVENT_TYPES } from '../../schemas/event-data.ts'
import { readLocalToken } from '../auth/local-token.ts'
import { loadConfig } from '../service/load-config.ts'
import { ReceiverError } from '../errors.ts'
import { samplePayload } from '../simulate/sample-payload.ts'
import { encodeForm, type PhpValue } from '../wire/encode-form.ts'
import type { CommandIo } from './io.ts'

/** A usage mistake in a command's arguments (exit 2 would be usage; this is bad input, exit 1). */
class SimulateError extends ReceiverError {
  constructor(message: string) {
    super('BAD_ARGUMENTS', 400, message)
  }
}

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  text: { type: 'string' },
  chat: { type: 'string' },
  user: { type: 'string' },
  portal: { type: 'string' },
} as const

/**
 * `b24-receiver simulate TYPE [--text T] [--chat ID] [--user ID] [--portal DOMAIN] [--url URL]
 * [--token TOKEN]`: builds a realistic event, encodes it exactly as Bitrix24 does, POSTs it with
 * Bitrix24's headers and prints the reply. `--url` defaults to this machine's `PORT`, `--token`
 * to the first of `B24_APP_TOKENS`, else the local token under `DATA_DIR`.
 */
export async function simulate(args: string[], io: CommandIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true })
  } catch (error) {
    throw new SimulateError((error as Error).message)
  }
  const { values, positionals } = parsed
  const type = positionals[0]?.toUpperCase() ?? ''
  if (!isChatEventType(type)) throw new SimulateError(`give an event type: ${CHAT_EVENT_TYPES.join(', ')}`)
  const number = (name: 'chat' | 'user') => {
    const value = values[name]
    if (value === undefined) return undefined
    if (!/^[1-9][0-9]{0,15}$/.test(value)) throw new SimulateError(`--${name} takes a positive integer`)
    return Number(value)
  }
  const config = loadConfig(io.env)
  const configured = config.appTokens[0]?.replace(/^[^:]*:/, '')
  const token = values.token ?? configured ?? (await readLocalToken(config.dataDir))
  if (!token) throw new SimulateError('no token: pass --token, set B24_APP_TOKENS, or start the service once to make a local token')
  const url = values.url ?? `http://127.0.0.1:${config.port}/webhook`
  const payload = samplePayload({ type, token, text: values.text, chatId: number('chat'), userId: number('user'), portal: values.portal })

  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'User-Agent': 'Bitrix24 Webhook Engine', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: encodeForm(payload as PhpValue),
    })
  } catch (error) {
    // fetch says `fetch failed`; why (refused, DNS, bad URL) is in its cause.
    throw new SimulateError(`cannot reach ${url}: ${(error as Error).message}: ${String((error as Error).cause)}`)
  }
  io.stdout.write(`${type} -> ${url}: ${response.status} ${await response.text()}\n`)
  // A 200 means stored: what the handlers made of it comes after, in the worker.
  if (response.ok) io.stdout.write(`stored; the service's log shows it handled (or why not), /health counts it, and \`b24-receiver dlq list\` holds it if it failed\n`)
  return response.ok ? 0 : 1
}
