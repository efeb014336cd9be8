import type { Portal } from '../../../schemas/portal.ts'
import type { BodyKind, DeadLetter, NewRecord, Source, StoredRecord } from '../store.ts'

/** A row of the `events` table (see ./migrations.ts). */
export interface Row {
  id: number
  key: string
  chat_key: string
  type: string
  received_at: number
  attempts: number
  event_json: string | null
  raw_json: string | null
  body_kind: BodyKind | null
  delivery_json: string
  credentials_json: string
  last_error: string | null
}

// A body of kind `event` lives in `event_json`, any other in `raw_json` (the columns of the first
// schema version, so an inbox written by an earlier release reads as it was), its kind beside it.
export const bodyColumns = ({ bodyKind, body }: Pick<NewRecord, 'bodyKind' | 'body'>) => ({
  event_json: bodyKind === 'event' ? body : null,
  raw_json: bodyKind === 'event' ? null : body,
  body_kind: bodyKind,
})

/** The columns a new record fills. */
export function recordColumns(record: NewRecord) {
  return {
    key: record.key,
    chat_key: record.chatKey,
    type: record.type,
    ...bodyColumns(record),
    delivery_json: JSON.stringify({ source: record.source, portal: record.portal, handlerId: record.handlerId }),
    credentials_json: record.credentials,
    last_error: record.error ?? null,
  }
}

export function toRecord(row: Row): StoredRecord {
  const { source, portal, handlerId } = JSON.parse(row.delivery_json) as { source: Source; portal: Portal; handlerId: number | null }
  const bodyKind: BodyKind = row.body_kind ?? (row.event_json === null ? 'payload' : 'event')
  return {
    id: row.id,
    key: row.key,
    chatKey: row.chat_key,
    type: row.type,
    source,
    portal,
    handlerId,
    bodyKind,
    body: (row.event_json ?? row.raw_json) as string,
    credentials: row.credentials_json,
    attempts: row.attempts,
    receivedAt: row.received_at,
  }
}

export function toDeadLetter(row: Row): DeadLetter {
  const { id, type, attempts, source, portal, bodyKind, body, receivedAt } = toRecord(row)
  return { id, type, receivedAt: new Date(receivedAt).toISOString(), attempts, error: row.last_error as string, source, portal, bodyKind, body: bodyKind === 'form' ? body : JSON.parse(body) }
}
