import { Credentials } from '../../src/event/credentials.ts'
import type { ClaimedRecord, NewRecord, StoredRecord } from '../../src/store/store.ts'

// Records as the doors would append them, for the store and worker tests. The store never looks
// inside a body or credentials: these are plain text, not a real wire or a real seal.

export const PORTAL = { domain: 'p.bitrix24.com', memberId: 'member-1', clientEndpoint: 'https://p.bitrix24.com/rest/' }
export const CREDENTIALS = new Credentials({ application_token: 'secret-app', domain: PORTAL.domain }, { access_token: 'secret-bot' })

/** A record of chat `chat` whose body is `{ text }`. */
export const newRecord = (chat: number | string, text: string, extra: Partial<NewRecord> = {}): NewRecord => ({
  chatKey: `chat:${chat}`,
  type: 'ONIMV2MESSAGEADD',
  source: 'webhook',
  portal: PORTAL,
  bodyKind: 'payload',
  body: JSON.stringify({ text }),
  credentials: 'sealed-credentials',
  ...extra,
})

/** The `text` of a record made by {@link newRecord}. */
export const textOf = (record: Pick<StoredRecord, 'body'>): string => (JSON.parse(record.body) as { text: string }).text

/** A claimed record without its claim (`token`, `lost`): the record as stored, to compare with what another claim hands out. */
export const unclaimed = ({ token: _, lost: __, ...record }: ClaimedRecord): StoredRecord => record
