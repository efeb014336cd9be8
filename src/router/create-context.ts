import { setMaxListeners } from 'node:events'
import type { Logger } from 'pino'
import type { PortalRow } from '../../schemas/portal.ts'
import { installedPortal } from '../event/installed-portal.ts'
import { createBitrix, type RestCaller, type RestSettings } from '../bitrix/bitrix.ts'
import { dedupKey } from '../event/event-keys.ts'
import type { DecodedEvent } from '../event/decoded-event.ts'
import type { Wait } from '../wait.ts'
import { createReply } from './create-reply.ts'
import type { HandlerContext } from './handler-context.ts'

/** Application mode: the portal an event came from, as stored, and the client that calls it as the application. */
export interface AppPortal {
  row: PortalRow
  bitrix: RestCaller
}

/** What an attempt adds to the context: its number, the event's key, where calls go, and when it is abandoned. */
export interface AttemptSettings {
  /** 1 on the first try (the default), more on a retry. */
  attempt?: number
  /** The dedup key: the event's own by default. */
  key?: string
  rest?: RestSettings
  app?: AppPortal
  /** Aborts when the attempt is abandoned (its claim lost); never, by default. */
  signal?: AbortSignal
  /** How the attempt's REST calls wait for room (see {@link Wait}); just waiting, by default. */
  wait?: Wait
}

const NEVER = new AbortController().signal

/** The context handlers of one event, on a given attempt. */
export function createContext(decoded: DecodedEvent, logger: Logger, settings: AttemptSettings = {}): HandlerContext {
  const { attempt = 1, key = dedupKey(decoded), rest, app, signal = NEVER, wait } = settings
  // Each call of the handlers, waiting for room or under way, listens to the signal until it is
  // done: a handler with more than ten at once is no leak (Node warns past ten by default).
  setMaxListeners(0, signal)
  const { event, delivery } = decoded
  const log = logger.child({ type: event.type, portal: delivery.portal.domain ?? delivery.portal.memberId })
  const botId = (event.data as { bot?: { id?: unknown } }).bot?.id
  const bitrix = createBitrix(delivery.credentials, typeof botId === 'number' ? botId : null, rest, { logger: log, app: app && { bitrix: app.bitrix, confirmed: app.row }, signal, wait })
  return {
    portal: app ? { ...delivery.portal, ...installedPortal(app.row) } : delivery.portal,
    log,
    credentials: delivery.credentials,
    bitrix,
    reply: createReply(event, bitrix),
    source: delivery.source,
    attempt,
    key,
    signal,
  }
}
