import type { Logger } from 'pino'
import { createBitrix, type RestSettings } from '../bitrix/bitrix.ts'
import { dedupKey } from '../event/event-keys.ts'
import type { InboundEvent } from '../event/inbound-event.ts'
import type { HandlerContext } from './handler-context.ts'

/** The context handlers of one event get, on a given attempt. */
export function createContext(inbound: InboundEvent, logger: Logger, attempt = 1, key = dedupKey(inbound), rest?: RestSettings): HandlerContext {
  const { event, delivery } = inbound
  const log = logger.child({ type: event.type, portal: delivery.portal.domain ?? delivery.portal.memberId })
  const botId = (event.data as { bot?: { id?: unknown } }).bot?.id
  return {
    portal: delivery.portal,
    log,
    credentials: delivery.credentials,
    bitrix: createBitrix(delivery.credentials, typeof botId === 'number' ? botId : null, rest, log),
    source: delivery.source,
    attempt,
    key,
  }
}
