import { Credentials } from '../event/credentials.ts'
import { parseForm, type FormLimits } from '../wire/parse-form.ts'
import type { Store } from '../store/store.ts'
import { decodeArrival } from './arrival.ts'
import { eventRecord } from './records.ts'

export type ReplayResult = { id: number; replayed: true } | { id: number; replayed: false; reason: string }

/**
 * Puts a dead letter back in line. One that failed its handlers goes back as it was; one that
 * failed to decode is decoded again from its stored body and credentials first (after a fix of
 * the decoder, of the portal, or of the limits: `formLimits`), and stays dead, the reason given,
 * if it still fails.
 */
export async function replayDeadLetter(store: Pick<Store, 'deadLetters'>, id: number, formLimits?: Partial<FormLimits>): Promise<ReplayResult> {
  const record = await store.deadLetters.record(id)
  if (!record) return { id, replayed: false, reason: 'no dead letter with this id' }
  if (record.bodyKind === 'event') {
    await store.deadLetters.revive(id, record)
    return { id, replayed: true }
  }
  const { source, portal } = record
  let decoded
  try {
    // A form kept for its size is read with today's limits: raised since, it now passes.
    const payload = record.bodyKind === 'form' ? parseForm(record.body, formLimits) : (JSON.parse(record.body) as Record<string, unknown>)
    decoded = eventRecord(decodeArrival({ source, portal, payload, credentials: Credentials.parse(record.credentials) }))
  } catch (error) {
    // Still off its schema, or (a polled event) not even an event.
    return { id, replayed: false, reason: (error as Error).message }
  }
  await store.deadLetters.revive(id, decoded)
  return { id, replayed: true }
}
