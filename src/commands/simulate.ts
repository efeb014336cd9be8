import { parseArgs } from 'node:util'
import { isChatEventType, CHAT_EVENT_TYPES, type ChatEventType } from '../../schemas/event-data.ts'
import { APP_EVENT_TYPES, FAKE_PORTAL_EVENT_TYPES, isAppEventType, isFakePortalEventType, type FakePortalEventType } from '../../schemas/fake-portal.ts'
import { readLocalToken } from '../auth/local-token.ts'
import { loadConfig } from '../service/load-config.ts'
import { fakePortalEvent } from '../simulate/fake-portal-event.ts'
import { samplePayload } from '../simulate/sample-payload.ts'
import { encodeForm, type PhpValue } from '../wire/encode-form.ts'
import { BadArgumentsError } from '../errors.ts'
import type { CommandIo } from './io.ts'

const OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  text: { type: 'string' },
  chat: { type: 'string' },
  user: { type: 'string' },
  portal: { type: 'string' },
  'fake-portal': { type: 'string' },
} as const

/**
 * `b24-receiver simulate TYPE [--text T] [--chat ID] [--user ID] [--portal DOMAIN] [--url URL]
 * [--token TOKEN | --fake-portal URL]`: builds a realistic event, encodes it exactly as Bitrix24
 * does, POSTs it with Bitrix24's headers and prints the reply. `--url` defaults to this machine's
 * `PORT`, `--token` to the first of `B24_APP_TOKENS`, else the local token under `DATA_DIR`.
 * With `--fake-portal` (application mode on one machine) the event is one that a portal of
 * `b24-receiver fake-portal` posts, with the tokens it issued that portal: TYPE is then
 * `ONAPPINSTALL`, `ONAPPUPDATE` or `ONAPPUNINSTALL` (which the fake applies to that portal) or a
 * bot's `ONIMBOTV2*`.
 */
export async function simulate(args: string[], io: CommandIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true })
  } catch (error) {
    throw new BadArgumentsError((error as Error).message)
  }
  const { values, positionals } = parsed
  const type = positionals[0]?.toUpperCase() ?? ''
  const fake = values['fake-portal']
  // An install issues the tokens that prove the portal's later events: only a portal can make one.
  if (fake === undefined && isAppEventType(type)) throw new BadArgumentsError(`${type} comes from a portal with tokens its OAuth server issued: start \`b24-receiver fake-portal\` and pass --fake-portal URL`)
  if (fake === undefined && !isChatEventType(type)) throw new BadArgumentsError(`give an event type: ${CHAT_EVENT_TYPES.join(', ')}; with --fake-portal also ${APP_EVENT_TYPES.join(', ')}`)
  if (fake !== undefined && !isFakePortalEventType(type)) {
    throw new BadArgumentsError(`with --fake-portal, give an event a portal posts: ${FAKE_PORTAL_EVENT_TYPES.join(', ')} (a user's ONIMV2* events come by polling only)`)
  }
  if (fake !== undefined && values.token !== undefined) throw new BadArgumentsError('--token and --fake-portal do not go together: a fake portal’s events carry the application token it issued')
  const number = (name: 'chat' | 'user') => {
    const value = values[name]
    if (value === undefined) return undefined
    if (!/^[1-9][0-9]{0,15}$/.test(value)) throw new BadArgumentsError(`--${name} takes a positive integer`)
    return Number(value)
  }
  const about = { text: values.text, chatId: number('chat'), userId: number('user'), portal: values.portal }
  const config = loadConfig(io.env)
  const url = values.url ?? `http://127.0.0.1:${config.port}/webhook`
  // The type was checked above for the one or the other.
  let payload: Record<string, unknown>
  if (fake !== undefined) {
    payload = await fakePortalEvent(fake, { type: type as FakePortalEventType, ...about })
  } else {
    const configured = config.appTokens[0]?.replace(/^[^:]*:/, '')
    const token = values.token ?? configured ?? (await readLocalToken(config.dataDir))
    if (!token) throw new BadArgumentsError('no token: pass --token, set B24_APP_TOKENS, or start the service once to make a local token')
    payload = samplePayload({ type: type as ChatEventType, token, ...about })
  }

  let response: Response
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'User-Agent': 'Bitrix24 Webhook Engine', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: encodeForm(payload as PhpValue),
    })
  } catch (error) {
    // fetch says `fetch failed`; why (refused, DNS, bad URL) is in its cause.
    throw new BadArgumentsError(`cannot reach ${url}: ${(error as Error).message}: ${String((error as Error).cause)}`)
  }
  io.stdout.write(`${type} -> ${url}: ${response.status} ${await response.text()}\n`)
  // A 200 means stored: what the handlers made of it comes after, in the worker.
  if (response.ok) io.stdout.write(`stored; the service's log shows it handled (or why not), /health counts it, and \`b24-receiver dlq list\` holds it if it failed\n`)
  else if (fake !== undefined && response.status === 401) {
    io.stdout.write('refused: the service must run in application mode against this fake portal (B24_CLIENT_ID, B24_CLIENT_SECRET and B24_OAUTH_URL as `b24-receiver fake-portal` prints them), and have had the ONAPPINSTALL of this portal\n')
  }
  return response.ok ? 0 : 1
}
