import { chatKey } from '../event/event-keys.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { NewRecord } from '../store/store.ts'
import type { Arrival } from './arrival.ts'

/** The record of an arrival: its wire, in line with its chat, its credentials sealed. */
export function arrivalRecord(arrival: Arrival, sealer: Sealer): NewRecord {
  const { source, type, chat, portal, bodyKind, body, credentials } = arrival
  return {
    chatKey: chatKey(portal, type, chat),
    type,
    source,
    portal,
    bodyKind,
    body,
    credentials: credentials.isEmpty ? null : sealer.seal(credentials.serialize()),
  }
}
