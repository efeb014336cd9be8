import type { Sealer } from '../seal/sealer.ts'
import type { NewRecord, Source, Store } from '../store/store.ts'
import type { Arrival } from './arrival.ts'
import { arrivalRecord } from './arrival-record.ts'

/** What the doors hand arrivals to. */
export interface Ingest {
  /**
   * Stores an authenticated arrival as it came (credentials sealed); resolves once committed.
   * Decoding and dedup come after, in the worker. `put` stores the record elsewhere than the
   * inbox (under an install not confirmed yet).
   * @throws {StoreUnavailableError} when it could not be stored: the door must not acknowledge;
   *   whatever `put` throws.
   */
  accept(arrival: Arrival, put?: (record: NewRecord) => Promise<void>): Promise<void>
}

/** Told of each arrival once it is stored, by the door it came through (the receiver's metrics, which `/health` reads too); it must not throw. */
export interface IngestObserver {
  stored(source: Source): void
}

/** The one rule both doors follow: seal the credentials, store the wire. */
export function createIngest(store: Pick<Store, 'append'>, sealer: Sealer, observe?: IngestObserver): Ingest {
  return {
    async accept(arrival, put = (record) => store.append(record)) {
      await put(arrivalRecord(arrival, sealer))
      observe?.stored(arrival.source)
    },
  }
}
