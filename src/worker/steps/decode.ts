import type { DecodedEvent } from '../../event/decoded-event.ts'
import type { Sealer } from '../../seal/sealer.ts'
import type { FormLimits } from '../../wire/parse-form.ts'
import { decodeRecord, openCredentials } from '../decode-record.ts'
import { Undeliverable } from '../worker.ts'
import type { Attempt } from './attempt.ts'
import type { Step } from './compose.ts'

/**
 * The first step: opens the record's credentials and decodes its wire (within `formLimits`).
 * What does not decode is {@link Undeliverable}: what a decoder refuses now it refuses on every
 * attempt, and the dead letter keeps it for a replay. Credentials that do not open (a SealError)
 * are an ordinary failure, retried: the right key may come back.
 */
export const decode =
  (sealer: Sealer, formLimits?: Partial<FormLimits>): Step<Attempt> =>
  async (attempt, next) => {
    const credentials = openCredentials(attempt.record, sealer)
    let decoded: DecodedEvent
    try {
      decoded = decodeRecord(attempt.record, credentials, formLimits)
    } catch (error) {
      throw new Undeliverable((error as Error).message, { cause: error })
    }
    attempt.decoded = decoded
    await next()
  }
