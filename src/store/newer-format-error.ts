import { ReceiverError } from '../errors.ts'
import { isNewer, STORED_FORMAT } from './format.ts'

/**
 * What was asked for by name (a dead letter, a portal, a named value) was stored by a newer
 * version than this one: it is left as it is, neither read nor changed (503: a replica of the
 * newer version, or this one once upgraded, can take it).
 */
export class NewerFormatError extends ReceiverError {
  /** The format it was stored in. */
  readonly format: number

  /** `what`: names it without a value, as `dead letter 7` or `portal a1b2`. */
  constructor(what: string, format: number) {
    super('NEWER_FORMAT', 503, `${what} was stored by a newer version of b24-receiver (format ${format}; this one reads up to ${STORED_FORMAT}): left alone; upgrade this replica`)
    this.format = format
  }
}

/**
 * Refuses to read or change a row a newer version wrote.
 * @throws {NewerFormatError} when `format` is newer than this version's.
 */
export function refuseNewer(what: string, format: number): void {
  if (isNewer(format)) throw new NewerFormatError(what, format)
}
