import type { DecodedEvent, NormalizedEvent } from '../../event/decoded-event.ts'
import type { HandlerContext } from '../../router/handler-context.ts'
import type { Attempt } from './attempt.ts'
import type { Step } from './compose.ts'

/** A built-in step after the handlers (the log line, `EVENTS_FILE`): it never makes them run again. */
export type Sink = (event: NormalizedEvent, ctx: HandlerContext) => unknown

/** The last step: each sink in turn, with the event and the context the handlers got; a failing one fails the attempt. */
export const sinks =
  (list: readonly Sink[]): Step<Attempt> =>
  async (attempt, next) => {
    const { event } = attempt.decoded as DecodedEvent
    for (const sink of list) await sink(event, attempt.handlerContext as HandlerContext)
    await next()
  }
