import type { AcceptedReply, ErrorReply } from '../../schemas/reply.ts'
import type { RefusalLog } from '../auth/refusal-log.ts'
import { UnauthorizedError } from '../auth/verify-token.ts'
import { BodyTooLargeError } from '../errors.ts'
import { mediaOf } from '../event/read-payload.ts'
import { scanWebhook } from '../event/scan-webhook.ts'
import type { Arrival } from './arrival.ts'
import { errorReply, type DoorReply } from './error-reply.ts'
import type { Append, Verifier } from './verifier.ts'

/** A webhook request as any HTTP server has it. */
export interface WebhookRequest {
  /** The raw body, as received. */
  body: string | Buffer
  /** The `Content-Type` header. */
  contentType: string | undefined
}

/** Told of the webhook door's refusals (stored events are the ingest's to tell); it must not throw. */
export interface DoorObserver {
  /** The door answered `status` (4xx, 5xx) and stored nothing. */
  refused(status: number): void
}

export interface WebhookDoorParts {
  /** The largest body taken, in bytes. */
  bodyLimit: number
  verify: Verifier
  append: Append
  /** Where a 500 is logged. */
  logger: { error(details: object, message: string): void }
  /** Tells, now and then, which portal was refused for its token. */
  refused: RefusalLog
  observe: DoorObserver
}

/** The webhook door for any HTTP server: a request in, its reply out; it never throws. */
export type WebhookDoor = (request: WebhookRequest) => Promise<DoorReply<AcceptedReply | ErrorReply>>

/**
 * The webhook door, the chain [scan, verify, append]: it does only what must come before the 200.
 * Scan checks the content type (415) and the size (413) and reads the event type and the token
 * from the wire (400); the verifier proves it (401) and hands it to append, which stores the wire
 * with its credentials sealed (503 when it cannot). 200 means stored; decoding, validation and
 * dedup follow in the worker. Replies never echo the input.
 */
export function webhookDoor({ bodyLimit, verify, append, logger, refused, observe }: WebhookDoorParts): WebhookDoor {
  return async (request) => {
    let arrival: Arrival | undefined
    try {
      arrival = scanRequest(request, bodyLimit)
      await verify(arrival, append)
      return { status: 200, body: { ok: true } }
    } catch (error) {
      if (error instanceof UnauthorizedError && arrival) refused(arrival.portal, error.code)
      const reply = errorReply(error, logger)
      observe.refused(reply.status)
      return reply
    }
  }
}

/** The door's first step: the arrival a request brings, read just enough to check and store it (415, 413, 400 when it cannot be). */
export function scanRequest(request: WebhookRequest, bodyLimit: number): Arrival {
  const media = mediaOf(request.contentType)
  if (Buffer.byteLength(request.body) > bodyLimit) throw new BodyTooLargeError()
  const { credentials, ...wire } = scanWebhook(typeof request.body === 'string' ? request.body : request.body.toString('utf8'), media)
  return { source: 'webhook', portal: credentials.portal, credentials, ...wire }
}
