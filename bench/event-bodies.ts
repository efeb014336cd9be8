// The bodies every load posts: the captured 4.6 KB ONIMBOTV2MESSAGEADD (a real Bitrix24 request),
// with a new message id and text each time, so that deduplication stores every one, and
// optionally another chat, so that the worker can run chats side by side.
//
// Bodies are made while the load runs (keep-pace puts the send time in the text), by the process
// that also drives the load on a 2-core machine shared with the servers it measures: encoding the
// whole payload each time would take CPU from them. So the payload is encoded once with markers
// in the varying fields, and a body is that template with the markers filled in, each value
// encoded by the same `encodeForm`; a check at load proves it the same as encoding in full.
import { readFileSync } from 'node:fs'
import { encodeForm, type PhpValue } from '../src/wire/encode-form.ts'
import { readPhpJson } from '../src/wire/read-php-json.ts'

type PhpMap = Map<string, PhpValue>

export interface EventFields {
  /** `data[message][id]`. */
  id: number
  /** `data[message][text]`. */
  text: string
  /** The chat id, in every field that names the chat; the captured chat by default. */
  chat?: number
}

const payload = readPhpJson(readFileSync(new URL('../test/fixtures/bitrix/capture_imbot_v2_message_add_2026_09_16.payload.json', import.meta.url), 'utf8')) as PhpMap
const data = payload.get('data') as PhpMap
const message = data.get('message') as PhpMap
const chat = data.get('chat') as PhpMap

/** The application token the captured event carries: the one a receiver must accept. */
export const EVENT_TOKEN = (payload.get('auth') as PhpMap).get('application_token') as string

/** The captured event's chat id; a load over several chats counts up from it. */
export const CAPTURED_CHAT = Number(chat.get('id'))

// Every field that names the chat, so that a body of another chat is consistent whichever of them
// a reader looks at (the receiver orders by `data[chat][id]`, the event log shows `dialogId`).
// `chat[entityId]` (`livechat|13|19165|515`) names the open-lines session, not the chat: kept.
const CHAT_FIELDS: Array<[PhpMap, string, (chat: string) => string]> = [
  [message, 'chatId', (id) => id],
  [message, 'chat_id', (id) => id],
  [chat, 'id', (id) => id],
  [chat, 'dialogId', (id) => `chat${id}`],
  [data, 'dialogId', (id) => `chat${id}`],
]

function setFields(fields: { id: string; text: string; chat: string }): void {
  message.set('id', fields.id)
  message.set('text', fields.text)
  for (const [map, key, value] of CHAT_FIELDS) if (map.has(key)) map.set(key, value(fields.chat))
}

// Markers that `encodeForm` leaves as they are (letters only) and the fixture does not contain.
const MARKERS = { id: 'BenchMarkerId', text: 'BenchMarkerText', chat: 'BenchMarkerChat' } as const
type Field = keyof typeof MARKERS
setFields(MARKERS)
const pieces = encodeForm(payload).split(/(BenchMarker(?:Id|Text|Chat))/)
const literals = pieces.filter((_, i) => i % 2 === 0)
const fields = pieces.filter((_, i) => i % 2 === 1).map((marker) => (Object.keys(MARKERS) as Field[]).find((field) => MARKERS[field] === marker) as Field)

const encodeValue = (value: string) => encodeForm(new Map([['v', value]])).slice(2)

/** The captured event as Bitrix24 would post it with these fields. */
export function eventBody({ id, text, chat = CAPTURED_CHAT }: EventFields): string {
  const values: Record<Field, string> = { id: String(id), text: encodeValue(text), chat: String(chat) }
  let body = literals[0] as string
  for (let i = 0; i < fields.length; i++) body += values[fields[i] as Field] + (literals[i + 1] as string)
  return body
}

const sample = { id: 2_000_001, text: 'сообщение номер 1 & 2', chat: CAPTURED_CHAT + 7 }
setFields({ id: String(sample.id), text: sample.text, chat: String(sample.chat) })
if (eventBody(sample) !== encodeForm(payload)) throw new Error('bench/event-bodies.ts: the template no longer encodes as encodeForm does')
