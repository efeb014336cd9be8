import { ReceiverError } from '../errors.ts'

/** The inbox cannot store events now (unwritable or corrupt `DATA_DIR`): refuse, never lose (503). */
export class InboxUnavailableError extends ReceiverError {
  constructor(message: string, options?: ErrorOptions) {
    super('INBOX_UNAVAILABLE', 503, message, options)
  }
}
