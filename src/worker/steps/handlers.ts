import type { Logger } from 'pino'
import type { RestSettings } from '../../bitrix/bitrix.ts'
import type { DecodedEvent } from '../../event/decoded-event.ts'
import { createContext } from '../../router/create-context.ts'
import type { Router } from '../../router/router.ts'
import { Waits } from '../../wait.ts'
import type { Attempt } from './attempt.ts'
import type { Step } from './compose.ts'
import { HandlersFailedError } from './handlers-failed-error.ts'

export interface HandlersOptions {
  /** Who runs the handlers of an event. */
  router: Pick<Router, 'dispatch'>
  /** How long one handler may run before it counts as failed: the worker's setting, given here only. */
  handlerTimeoutMs: number
  logger: Logger
  rest?: RestSettings
}

/**
 * Runs the event's handlers through the router, with the context they get (kept for the steps
 * after), then the rest of the chain (the sinks). Any handler failing fails the attempt, with
 * every error ({@link HandlersFailedError}). When they succeeded and a later step failed, the
 * retry in this process skips them: their effects (a bot's answer) are not repeated for a sink.
 * That memory is this process's: a retry taken by another replica, or after a restart, runs them
 * again, as after a crash between the handlers and the record's completion (`ctx.key` is how a
 * handler makes its effect happen once).
 */
export function handlers({ router, handlerTimeoutMs, logger, rest }: HandlersOptions): Step<Attempt> {
  const succeeded = new Set<number>()
  return async (attempt, next) => {
    const { id } = attempt.record
    const { event } = attempt.decoded as DecodedEvent
    // The handlers' waits for room (their portal's REST bucket) lend the attempt's slot and stop their clocks.
    const waits = new Waits(attempt.wait)
    attempt.handlerContext = createContext(attempt.decoded as DecodedEvent, logger, { attempt: attempt.number, key: attempt.key, rest, app: attempt.portal, signal: attempt.signal, wait: waits.wait })
    if (!succeeded.has(id)) {
      const { errors } = await router.dispatch(event, attempt.handlerContext, handlerTimeoutMs, waits)
      if (errors.length > 0) throw new HandlersFailedError(errors)
      succeeded.add(id)
    }
    await next()
    succeeded.delete(id)
  }
}
