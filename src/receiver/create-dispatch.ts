import type { Logger } from 'pino'
import type { RestSettings } from '../bitrix/bitrix.ts'
import type { NormalizedEvent } from '../event/inbound-event.ts'
import { inboundOf } from '../ingest/records.ts'
import { createContext } from '../router/create-context.ts'
import type { HandlerContext } from '../router/handler-context.ts'
import type { Router } from '../router/router.ts'
import type { Dispatch } from '../worker/worker.ts'

/** A built-in step after the handlers (the log line, `EVENTS_FILE`): it never makes them run again. */
export type Sink = (event: NormalizedEvent, ctx: HandlerContext) => unknown

/** Some of an event's handlers threw: the attempt failed. */
export class HandlersFailedError extends Error {
  readonly errors: unknown[]

  constructor(errors: unknown[]) {
    super(errors.map((error) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))).join('; '))
    this.name = 'HandlersFailedError'
    this.errors = errors
  }
}

export interface DispatchOptions {
  router: Router
  sinks: Sink[]
  logger: Logger
  handlerTimeoutMs: number
  rest?: RestSettings
}

/**
 * What the worker runs for each stored record: the event and its context, the router's
 * handlers, then the sinks. When a sink fails after the handlers succeeded, the retry runs the
 * sinks alone: the handlers' effects (a bot's answer) are not repeated within this process.
 */
export function createDispatch({ router, sinks, logger, handlerTimeoutMs, rest }: DispatchOptions): Dispatch {
  const handled = new Set<string>()
  return async (record, attempt) => {
    const inbound = inboundOf(record)
    const ctx = createContext(inbound, logger, attempt, record.key, rest)
    if (!handled.has(record.key)) {
      const { errors } = await router.dispatch(inbound.event, ctx, handlerTimeoutMs)
      if (errors.length > 0) throw new HandlersFailedError(errors)
      handled.add(record.key)
    }
    for (const sink of sinks) await sink(inbound.event, ctx)
    handled.delete(record.key)
  }
}
