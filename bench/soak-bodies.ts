// The soak's traffic (bench/soak.ts): every chat event type Bitrix24 posts, as a stand-in portal
// (test/fakes/limited-portal.ts) would post it, from the fixtures of each type; the i-th post of
// a steady load is decided by i alone, so two runs post the same mix:
// - of every 20 posts: 6 bot messages (the captured real one), 2 user messages (ONIMV2), 3 edits
//   and 2 deletions of a message posted a moment before, 2 reactions, 2 joins, a bot command, a
//   context request, and a double delivery (the post before, byte for byte again);
// - every BOT_DELETED_EVERY-th post a bot deleted; every DEAD_LETTER_EVERY-th a bot message whose
//   id is not a number (authenticated, invalid: the dead letter's).
// Messages and edits carry the send time in their text, so the handler can tell post to handler;
// one bot message in REPLY_EVERY says `reply`, and its handler answers it through the portal.
import { readFileSync } from 'node:fs'
import type { EventPortal } from './portal-event-body.ts'
import { encodeForm, type PhpValue } from '../src/wire/encode-form.ts'
import { readPhpJson } from '../src/wire/read-php-json.ts'

type PhpMap = Map<string, PhpValue>

export const BOT_DELETED_EVERY = 5000
export const DEAD_LETTER_EVERY = 20_000
export const REPLY_EVERY = 20
/** The application token every soak event carries. */
export const SOAK_TOKEN = 'soak'.repeat(8)
/** Chats the posts go round, and the first one's id. */
const CHATS = 100
const FIRST_CHAT = 70_000
/** The message id of post i (a double delivery repeats the one before). */
const FIRST_MESSAGE = 10_000_000
const FIRST_USER = 1_000_000

const fixture = (name: string) => readFileSync(new URL(`../test/fixtures/bitrix/${name}.payload.json`, import.meta.url), 'utf8')

const KINDS = {
  botMessage: fixture('capture_imbot_v2_message_add_2026_09_16'),
  userMessage: fixture('im_v2_message_add'),
  botEdit: fixture('imbot_v2_message_update_webhook'),
  userEdit: fixture('im_v2_message_update'),
  botDelete: fixture('imbot_v2_message_delete_webhook'),
  userDelete: fixture('im_v2_message_delete'),
  botReaction: fixture('imbot_v2_reaction_change_webhook'),
  userReaction: fixture('im_v2_reaction_change'),
  botJoin: fixture('imbot_v2_join_chat_webhook'),
  userJoin: fixture('im_v2_join_chat'),
  command: fixture('imbot_v2_command_add_webhook'),
  context: fixture('imbot_v2_context_get_webhook'),
  botDeleted: fixture('imbot_v2_delete_webhook'),
}
type Kind = keyof typeof KINDS

// Of each 20 posts; 'again' is the post before once more.
const ROUND: Array<Kind | 'again'> = [
  'botMessage', 'userMessage', 'botEdit', 'botMessage', 'botReaction', 'botMessage', 'userJoin', 'botDelete', 'command', 'botMessage',
  'userEdit', 'again', 'botMessage', 'userReaction', 'botJoin', 'userMessage', 'botEdit', 'context', 'botMessage', 'userDelete',
]
/** Kinds whose text carries the send time. */
const TIMED = new Set<Kind>(['botMessage', 'userMessage', 'botEdit', 'userEdit'])

/** What the handler reads back: a timed text is `soak SEND_MS` (and ` reply` when it asks for one). */
export const sentAt = (text: string): number | null => {
  const match = /^soak (\d+(?:\.\d+)?)/.exec(text)
  return match ? Number(match[1]) : null
}

/** What the bodies made so far were: posts, double deliveries, invalid events (dead letters) and replies asked for. */
export interface SoakMade {
  posts: number
  again: number
  invalid: number
  replies: number
}

/** The i-th post's kind: what a load of `i` posts sends. */
function kindOf(i: number): Kind | 'again' {
  if (i % BOT_DELETED_EVERY === BOT_DELETED_EVERY - 1) return 'botDeleted'
  return ROUND[i % ROUND.length] as Kind | 'again'
}

/**
 * Makes the soak's posts for one stand-in portal: `body(i)` is the i-th, its send time (epoch ms)
 * in its text, and `made` counts what they were. A double delivery repeats the body made for the
 * post before it, so `body` must be called in order, once each (as bench/paced-load.ts does).
 */
export function soakBodies(portal: EventPortal): { body: (i: number) => string; made: SoakMade } {
  let last = ''
  const made: SoakMade = { posts: 0, again: 0, invalid: 0, replies: 0 }
  const body = (i: number): string => {
    made.posts++
    const kind = kindOf(i)
    if (kind === 'again' && last !== '') {
      made.again++
      return last
    }
    const payload = readPhpJson(KINDS[kind === 'again' ? 'botMessage' : kind]) as PhpMap
    const chat = FIRST_CHAT + (i % CHATS)
    // Edits, deletions and reactions are of the message posted one round before in the same chat.
    const own = TIMED.has(kind as Kind) && !kind.endsWith('Edit')
    const id = own ? FIRST_MESSAGE + i : FIRST_MESSAGE + Math.max(0, i - ROUND.length * 5)
    const now = performance.timeOrigin + performance.now()
    let text = TIMED.has(kind as Kind) ? `soak ${now.toFixed(1)}` : ''
    const invalid = i % DEAD_LETTER_EVERY === DEAD_LETTER_EVERY - 2 && kind === 'botMessage'
    if (invalid) made.invalid++
    else if (kind === 'botMessage' && i % REPLY_EVERY === 0) {
      text += ' reply'
      made.replies++
    }
    set(payload, portal, { id: invalid ? 'not-a-number' : String(id), chat: String(chat), text, user: String(FIRST_USER + i) })
    last = encodeForm(payload)
    return last
  }
  return { body, made }
}

// The portal in both `auth` blocks (the event's and its bot's), the soak's token, now as `ts`, and
// the message, chat and text in every field of the payload that names them.
function set(payload: PhpMap, portal: EventPortal, fields: { id: string; chat: string; text: string; user: string }): void {
  const data = payload.get('data') as PhpMap
  const bot = data.get('bot') as PhpMap | undefined
  const now = Math.floor(Date.now() / 1000)
  for (const auth of [payload.get('auth') as PhpMap, bot?.get('auth') as PhpMap | undefined]) {
    if (auth === undefined) continue
    auth.set('domain', portal.domain)
    auth.set('member_id', portal.memberId)
    auth.set('client_endpoint', portal.restEndpoint)
    auth.set('access_token', portal.accessToken)
    auth.set('expires', String(now + 3600))
    auth.set('application_token', SOAK_TOKEN)
  }
  payload.set('ts', String(now))
  const message = data.get('message') as PhpMap | undefined
  if (message !== undefined) {
    message.set('id', fields.id)
    if (fields.text !== '') message.set('text', fields.text)
    for (const key of ['chatId', 'chat_id']) if (message.has(key)) message.set(key, fields.chat)
  }
  if (data.has('messageId')) data.set('messageId', fields.id)
  const chat = data.get('chat') as PhpMap | undefined
  if (chat !== undefined) {
    chat.set('id', fields.chat)
    if (chat.has('dialogId')) chat.set('dialogId', `chat${fields.chat}`)
  }
  if (data.has('dialogId')) data.set('dialogId', `chat${fields.chat}`)
  // A join or context request names no message: its user tells two of one chat in one second apart.
  const user = data.get('user') as PhpMap | undefined
  if (user !== undefined && message === undefined) user.set('id', fields.user)
  // A bot deleted names nothing else: its bot does.
  if (bot !== undefined && data.size === 1) bot.set('id', fields.user)
}
