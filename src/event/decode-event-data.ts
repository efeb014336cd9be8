import { EventDataSchemas, isChatEventType, type ChatEventType } from '../../schemas/event-data.ts'
import { EventValidationError } from '../errors.ts'
import { compileDecoder, type Decoder } from '../wire/compile-decoder.ts'
import { freeFormObject } from '../wire/free-form.ts'

const decoders = new Map<ChatEventType, Decoder<unknown>>()

// Compiled on first use of each type, then reused: start-up stays fast, traffic compiles nothing.
function decoderFor(type: ChatEventType): Decoder<unknown> {
  let decoder = decoders.get(type)
  if (!decoder) decoders.set(type, (decoder = compileDecoder(EventDataSchemas[type])))
  return decoder
}

/**
 * Decodes the `data` of an event: coerced and validated against its schema for the 13 chat
 * events, decoded generically for any other type. Credentials never survive into the result.
 * @throws {EventValidationError} when a chat event does not match its schema.
 */
export function decodeEventData(type: string, data: object): Record<string, unknown> {
  if (!isChatEventType(type)) return freeFormObject(data)
  const decoded = decoderFor(type)(data, '/data')
  if (!decoded.ok) throw new EventValidationError(type, decoded.issues)
  return decoded.value as Record<string, unknown>
}
