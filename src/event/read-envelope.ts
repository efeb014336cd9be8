import { EnvelopeError } from '../errors.ts'
import type { Decoder } from '../wire/compile-decoder.ts'

/**
 * Reads the envelope fields of an event (everything but `data`) with their decoder, and its
 * `data` object (`{}` when absent).
 * @throws {EnvelopeError} naming `what` the payload failed to be.
 */
export function readEnvelope<T>(decoder: Decoder<T>, payload: Record<string, unknown>, keys: readonly string[], what: string) {
  const envelope = decoder(Object.fromEntries(keys.map((key) => [key, payload[key]])))
  if (!envelope.ok) throw new EnvelopeError(`not ${what}: ${envelope.issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}`)
  const data = payload.data ?? {}
  if (typeof data !== 'object' || data === null) throw new EnvelopeError(`not ${what}: /data must be an object`)
  return { head: envelope.value, data }
}
