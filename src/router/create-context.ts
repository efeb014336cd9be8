import type { Logger } from 'pino'
import type { InboundEvent } from '../event/inbound-event.ts'
import type { HandlerContext } from './handler-context.ts'

/** The context handlers of one event get, on a given attempt. */
export function createContext({ event, delivery }: InboundEvent, logger: Logger, attempt = 1): HandlerContext {
  return {
    portal: delivery.portal,
    log: logger.child({ type: event.type, portal: delivery.portal.domain ?? delivery.portal.memberId }),
    credentials: delivery.credentials,
    source: delivery.source,
    attempt,
  }
}
