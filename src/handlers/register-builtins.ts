import type { Config } from '../config/load-config.ts'
import type { Router } from '../router/router.ts'
import { eventsFile } from './events-file.ts'
import { logEvent } from './log-event.ts'

/** The built-in handlers: a log line per event, and the `EVENTS_FILE` sink when configured. */
export function registerBuiltins(router: Router, config: Pick<Config, 'eventsFile'>): void {
  router.onAny(logEvent)
  if (config.eventsFile) router.onAny(eventsFile(config.eventsFile))
  router.onError((error, event, ctx) => ctx.log.error({ err: error, eventId: event.eventId }, 'a handler failed'))
}
