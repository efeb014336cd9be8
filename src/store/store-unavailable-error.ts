import { ReceiverError } from '../errors.ts'

/** The store cannot keep events now (unwritable or corrupt `DATA_DIR`, a lost database): refuse, never lose (503). */
export class StoreUnavailableError extends ReceiverError {
  constructor(message: string, options?: ErrorOptions) {
    super('INBOX_UNAVAILABLE', 503, message, options)
  }
}
