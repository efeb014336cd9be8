import { Credentials } from '../event/credentials.ts'
import type { DecodedEvent } from '../event/decoded-event.ts'
import { normalizePolled } from '../event/normalize-polled.ts'
import { normalizeWebhook } from '../event/normalize-webhook.ts'
import { readPayload } from '../event/read-payload.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { StoredRecord } from '../store/store.ts'
import { checkJsonDepth } from '../wire/check-json-depth.ts'
import { DEFAULT_FORM_LIMITS, parseForm, type FormLimits } from '../wire/parse-form.ts'

/**
 * The credentials a record was stored with, opened.
 * @throws {SealError} when the secret key is not the one that sealed them.
 */
export const openCredentials = (record: Pick<StoredRecord, 'credentials'>, sealer: Sealer): Credentials =>
  record.credentials === null ? new Credentials() : Credentials.parse(sealer.open(record.credentials))

/**
 * Decodes a stored wire into the event handlers see, by the rules of the door it came through:
 * parse (a form within `formLimits`), coerce, validate. The portal is the one the door verified.
 * @throws {ReceiverError} (MalformedBodyError, EnvelopeError, EventValidationError) when it will
 *   never decode: it belongs in the dead letter.
 */
export function decodeRecord(record: StoredRecord, credentials = new Credentials(), formLimits?: Partial<FormLimits>): DecodedEvent {
  const { source, portal, bodyKind, body } = record
  if (bodyKind === 'event') {
    // Decoded before it was stored, by an earlier release.
    return { event: readPayload(body, 'json') as DecodedEvent['event'], delivery: { source, portal, handlerId: null, credentials } }
  }
  const payload = bodyKind === 'form' ? parseForm(body, formLimits) : readPayload(body, 'json')
  // The door stores JSON of any depth (it must answer before decoding); decoding stops here.
  if (bodyKind === 'payload') checkJsonDepth(payload, formLimits?.maxDepth ?? DEFAULT_FORM_LIMITS.maxDepth)
  const decoded = source === 'poll' ? normalizePolled(payload, portal) : normalizeWebhook(payload, credentials)
  return { event: decoded.event, delivery: { ...decoded.delivery, portal } }
}
