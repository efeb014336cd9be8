import { EnvelopeError, MalformedBodyError } from '../errors.ts'
import { scanForm } from '../wire/scan-form.ts'
import { stringifyWithoutSecrets } from '../wire/stringify-without-secrets.ts'
import type { Credentials } from './credentials.ts'
import { webhookCredentials } from './normalize-webhook.ts'
import { readPayload, type Media } from './read-payload.ts'

/** What the door reads of a webhook before its 200, and the wire it stores. */
export interface WebhookScan {
  /** The event type, upper case. */
  type: string
  /** The chat it is about (`data[chat][id]`, else `data[dialogId]`), as the wire has it; `null` for none. */
  chat: string | null
  /** `auth` and `data[bot][auth]`, cut out of the wire. */
  credentials: Credentials
  /** The body as it came, minus every credential: the form's text, or the JSON re-serialized. */
  bodyKind: 'form' | 'payload'
  body: string
}

/**
 * Reads only what the door needs from a webhook body, with exactly the semantics of the full
 * parse (see {@link scanForm}; JSON is parsed whole, natively), and cuts the credentials out of
 * what will be stored. The full decode, with its limits, runs in the worker.
 * @throws {MalformedBodyError} for JSON that does not parse, or a token that cannot be read;
 *   {EnvelopeError} for a body with no readable event type.
 */
export function scanWebhook(body: string, media: Media): WebhookScan {
  let head: Record<string, unknown>
  let kept: string
  if (media === 'form') {
    const scan = scanForm(body)
    head = scan.head
    kept = scan.stripped
  } else {
    head = readPayload(body, 'json')
    kept = stringifyWithoutSecrets(head)
  }
  const { event, auth, data } = head as { event?: unknown; auth?: unknown; data?: { chat?: { id?: unknown }; dialogId?: unknown } }
  if (typeof event !== 'string' || event.trim() === '') throw new EnvelopeError('not a Bitrix24 event: the event type cannot be read')
  const token = typeof auth === 'object' && auth !== null ? (auth as { application_token?: unknown }).application_token : undefined
  if ((auth !== undefined && (typeof auth !== 'object' || auth === null)) || (token !== undefined && typeof token !== 'string')) {
    throw new MalformedBodyError('auth[application_token] cannot be read')
  }
  return { type: event.toUpperCase(), chat: chatOf(data), credentials: webhookCredentials(head), bodyKind: media === 'form' ? 'form' : 'payload', body: kept }
}

/** The chat an event's `data` is about, as a string, or `null` (the same fields for both doors). */
export function chatOf(data: unknown): string | null {
  if (typeof data !== 'object' || data === null) return null
  const { chat, dialogId } = data as { chat?: { id?: unknown }; dialogId?: unknown }
  const id = typeof chat === 'object' && chat !== null ? chat.id : undefined
  for (const value of [id, dialogId]) if (typeof value === 'string' || typeof value === 'number') return String(value)
  return null
}
