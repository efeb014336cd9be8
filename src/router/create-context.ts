import type { Logger } from 'pino'
import type { PortalRow } from '../../schemas/portal.ts'
import { installedPortal } from '../event/installed-portal.ts'
import { createBitrix, type Bitrix, type RestSettings } from '../bitrix/bitrix.ts'
import { dedupKey } from '../event/event-keys.ts'
import type { DecodedEvent } from '../event/decoded-event.ts'
import type { HandlerContext } from './handler-context.ts'

/** Application mode: the portal an event came from, as stored, and the client that calls it as the application. */
export interface AppPortal {
  row: PortalRow
  bitrix: Bitrix
}

/** The context handlers of one event get, on a given attempt. */
export function createContext(decoded: DecodedEvent, logger: Logger, attempt = 1, key = dedupKey(decoded), rest?: RestSettings, app?: AppPortal): HandlerContext {
  const { event, delivery } = decoded
  const log = logger.child({ type: event.type, portal: delivery.portal.domain ?? delivery.portal.memberId })
  const botId = (event.data as { bot?: { id?: unknown } }).bot?.id
  return {
    portal: app ? { ...delivery.portal, ...installedPortal(app.row) } : delivery.portal,
    log,
    credentials: delivery.credentials,
    bitrix: createBitrix(delivery.credentials, typeof botId === 'number' ? botId : null, rest, log, app && { bitrix: app.bitrix, confirmed: app.row }),
    source: delivery.source,
    attempt,
    key,
  }
}
