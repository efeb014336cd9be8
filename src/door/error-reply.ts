import type { ErrorReply } from '../../schemas/reply.ts'
import { ReceiverError } from '../errors.ts'

/** A reply of the webhook door: its status and JSON body. */
export interface DoorReply<B> {
  status: number
  body: B
}

/**
 * The one place an error becomes a reply: a {@link ReceiverError} says its status, code and
 * message (never a value from the input); anything else is a 500 that says nothing and is logged.
 */
export function errorReply(error: unknown, logger: { error(details: object, message: string): void }): DoorReply<ErrorReply> {
  if (!(error instanceof ReceiverError)) {
    logger.error({ err: error }, 'request failed')
    return { status: 500, body: { error: 'INTERNAL', message: 'internal error' } }
  }
  return { status: error.statusCode, body: { error: error.code, message: error.message } }
}
