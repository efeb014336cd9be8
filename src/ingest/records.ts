import { EventValidationError, type ReceiverError } from '../errors.ts'
import { chatKey, dedupKey, rejectedKey } from '../event/event-keys.ts'
import type { InboundEvent } from '../event/inbound-event.ts'
import { Credentials } from '../event/credentials.ts'
import type { NewRecord, StoredRecord } from '../store/store.ts'
import { freeFormObject } from '../wire/free-form.ts'
import type { Arrival, FormArrival } from './arrival.ts'

/** The record of a decoded event: stored once per dedup key, in line with its chat. */
export function eventRecord({ event, delivery }: InboundEvent): NewRecord {
  const body = JSON.stringify(event)
  const key = dedupKey({ event, delivery }, body)
  return {
    key,
    chatKey: chatKey({ event, delivery }, key),
    type: event.type,
    source: delivery.source,
    portal: delivery.portal,
    handlerId: delivery.handlerId,
    bodyKind: 'event',
    body,
    credentials: delivery.credentials.serialize(),
  }
}

/**
 * The dead-letter record of an authenticated arrival that failed to decode: its payload with
 * every credential cut out (a webhook's as the form wire would read, a polled one as it came),
 * the credentials apart, and why.
 */
export function rejectedRecord(arrival: Arrival, error: ReceiverError): NewRecord {
  const { source, payload } = arrival
  const kept = source === 'webhook' ? freeFormObject(payload) : payload
  const type = error instanceof EventValidationError ? error.type : (payload.event ?? payload.type)
  return keptRecord(arrival, { bodyKind: 'payload', body: JSON.stringify(kept), type }, error)
}

/** The dead-letter record of a form body past the decoding limits: its text, credentials cut out. */
export const oversizedRecord = (arrival: FormArrival, error: ReceiverError): NewRecord =>
  keptRecord(arrival, { bodyKind: 'form', body: arrival.form, type: arrival.type }, error)

function keptRecord(arrival: Omit<Arrival, 'payload'>, kept: Pick<NewRecord, 'bodyKind' | 'body'> & { type: unknown }, error: ReceiverError): NewRecord {
  const { source, portal, credentials } = arrival
  const key = rejectedKey(portal, kept.body)
  return {
    key,
    chatKey: `rejected:${key}`,
    type: typeof kept.type === 'string' && kept.type !== '' ? kept.type.toUpperCase() : 'UNKNOWN',
    source,
    portal,
    handlerId: null,
    bodyKind: kept.bodyKind,
    body: kept.body,
    credentials: credentials.serialize(),
    error: error.message,
  }
}

/** The event a stored record holds, and how it arrived. */
export function inboundOf(record: StoredRecord): InboundEvent {
  return {
    event: JSON.parse(record.body) as InboundEvent['event'],
    delivery: { source: record.source, portal: record.portal, handlerId: record.handlerId, credentials: Credentials.parse(record.credentials) },
  }
}
