import type { Portal } from '../../schemas/portal.ts'
import { STORED_FORMAT } from './format.ts'
import type { BodyKind, DeadLetter, NewRecord, Source, StoredRecord } from './store.ts'

/** A row of the inbox table, as both stores lay it out (see sqlite/migrations.ts and postgres/migrations.ts). */
export interface Row {
  id: number
  status: 'pending' | 'dead'
  chat_key: string
  type: string
  source: Source
  received_at: number
  next_at: number
  attempts: number
  last_error: string | null
  portal_json: string
  body_kind: BodyKind
  body: string
  credentials: string | null
  /** The format it was written in (see format.ts). */
  format: number
}

/** The columns a new record fills, in this version's format. */
export const recordColumns = (record: NewRecord) => ({
  chat_key: record.chatKey,
  type: record.type,
  source: record.source,
  portal_json: JSON.stringify(record.portal),
  body_kind: record.bodyKind,
  body: record.body,
  credentials: record.credentials,
  format: STORED_FORMAT,
})

export const toRecord = (row: Row): StoredRecord => ({
  id: row.id,
  chatKey: row.chat_key,
  type: row.type,
  source: row.source,
  portal: JSON.parse(row.portal_json) as Portal,
  bodyKind: row.body_kind,
  body: row.body,
  credentials: row.credentials,
  attempts: row.attempts,
  receivedAt: row.received_at,
})

export function toDeadLetter(row: Row): DeadLetter {
  const { id, type, attempts, source, portal, bodyKind, body, receivedAt } = toRecord(row)
  return { id, type, receivedAt: new Date(receivedAt).toISOString(), attempts, error: row.last_error as string, source, portal, bodyKind, body: bodyKind === 'form' ? body : JSON.parse(body) }
}
