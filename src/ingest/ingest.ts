import type { EventCounts, Health } from '../../schemas/health.ts'
import { ReceiverError } from '../errors.ts'
import type { Store } from '../store/store.ts'
import { decodeArrival, type Arrival, type FormArrival } from './arrival.ts'
import { eventRecord, oversizedRecord, rejectedRecord } from './records.ts'

/** What the doors hand arrivals to. */
export interface Ingest {
  /**
   * Decodes an authenticated arrival and stores it; resolves `true` once stored, `false` for a
   * double delivery (stored before). One that fails to decode is kept in the dead letter, then
   * its error is thrown for the door to answer.
   * @throws {EnvelopeError} | {EventValidationError} after keeping it; {StoreUnavailableError} when nothing could be kept.
   */
  accept(arrival: Arrival): Promise<boolean>
  /**
   * Keeps a form body that trips a decoding limit in the dead letter, for a replay once the limit
   * is raised: an authenticated event is never refused for its size within the body limit.
   * @throws {StoreUnavailableError} when it could not be kept.
   */
  keepOversized(arrival: FormArrival, error: ReceiverError): Promise<void>
  counts(): IngestCounts
}

/** What the ingest counts of `/health`'s figures. */
export type IngestCounts = Pick<EventCounts, 'accepted' | 'duplicates' | 'rejected'> & Pick<Health, 'lastEventAt'>

/** The one rule both doors follow: decode, then store the event, or keep what failed to decode. */
export function createIngest(store: Pick<Store, 'append'>): Ingest {
  const counts: IngestCounts = { accepted: 0, duplicates: 0, rejected: 0, lastEventAt: null }
  return {
    async accept(arrival) {
      let record
      try {
        record = eventRecord(decodeArrival(arrival))
      } catch (error) {
        if (!(error instanceof ReceiverError)) throw error
        if (await store.append(rejectedRecord(arrival, error))) counts.rejected++
        throw error
      }
      const stored = await store.append(record)
      if (stored) {
        counts.accepted++
        counts.lastEventAt = new Date().toISOString()
      } else counts.duplicates++
      return stored
    },
    async keepOversized(arrival, error) {
      if (await store.append(oversizedRecord(arrival, error))) counts.rejected++
    },
    counts: () => ({ ...counts }),
  }
}
