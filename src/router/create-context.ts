import type { Logger } from 'pino'
import { dedupKey } from '../event/event-keys.ts'
import type { InboundEvent } from '../event/inbound-event.ts'
import type { HandlerContext } from './handler-context.ts'

/** The context handlers of one event get, on a given attempt. */
export function createContext(inbound: InboundEvent, logger: Logger, attempt = 1, key = dedupKey(inbound)): HandlerContext {
  const { event, delivery } = inbound
  return {
    portal: delivery.portal,
    log: logger.child({ type: event.type, portal: delivery.portal.domain ?? delivery.portal.memberId }),
    credentials: delivery.credentials,
    source: delivery.source,
    attempt,
    key,
  }
}
