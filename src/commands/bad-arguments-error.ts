import { ReceiverError } from '../errors.ts'

/** A command's arguments, or what they point at, will not do: one line on stderr, exit 1 (exit 2 is for an unknown command). */
export class BadArgumentsError extends ReceiverError {
  constructor(message: string) {
    super('BAD_ARGUMENTS', 400, message)
  }
}
