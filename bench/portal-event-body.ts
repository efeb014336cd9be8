// The captured ONIMBOTV2MESSAGEADD (a real Bitrix24 request, as bench/event-bodies.ts posts it) as
// a stand-in portal (test/fakes/limited-portal.ts) would post it: its domain, member id, REST
// endpoint and access token in both `auth` blocks (the event's and its bot's, which `ctx.bitrix`
// and `ctx.reply` call with), tokens that expire an hour from now, and a message id, text and chat
// of the benchmark's choosing. Encoded in full each time: the outbound benchmark makes its bodies
// before it posts them, and measures REST pacing, not the door.
import { readFileSync } from 'node:fs'
import { encodeForm, type PhpValue } from '../src/wire/encode-form.ts'
import { readPhpJson } from '../src/wire/read-php-json.ts'

type PhpMap = Map<string, PhpValue>

/** What an event needs of the portal it comes from. */
export interface EventPortal {
  /** `HOST:PORT`. */
  domain: string
  memberId: string
  /** `http://HOST:PORT/rest/`. */
  restEndpoint: string
  accessToken: string
}

export interface PortalMessage {
  id: number
  text: string
  chat: number
}

const FIXTURE = readFileSync(new URL('../test/fixtures/bitrix/capture_imbot_v2_message_add_2026_09_16.payload.json', import.meta.url), 'utf8')

/** The form body the portal would post for `message`. */
export function portalEventBody(portal: EventPortal, message: PortalMessage): string {
  const payload = readPhpJson(FIXTURE) as PhpMap
  const data = payload.get('data') as PhpMap
  const bot = data.get('bot') as PhpMap
  const now = Math.floor(Date.now() / 1000)
  for (const auth of [payload.get('auth') as PhpMap, bot.get('auth') as PhpMap]) {
    auth.set('domain', portal.domain)
    auth.set('member_id', portal.memberId)
    auth.set('client_endpoint', portal.restEndpoint)
    auth.set('access_token', portal.accessToken)
    auth.set('expires', String(now + 3600))
  }
  payload.set('ts', String(now))
  const fields = data.get('message') as PhpMap
  fields.set('id', String(message.id))
  fields.set('text', message.text)
  // Every field that names the chat, as bench/event-bodies.ts sets them.
  const chat = data.get('chat') as PhpMap
  const id = String(message.chat)
  fields.set('chatId', id)
  fields.set('chat_id', id)
  chat.set('id', id)
  chat.set('dialogId', `chat${id}`)
  return encodeForm(payload)
}
