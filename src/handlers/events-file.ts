import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { NormalizedEvent } from '../event/inbound-event.ts'
import type { HandlerContext } from '../router/handler-context.ts'

/**
 * Built-in handler for `EVENTS_FILE`: appends one JSON line per handled event,
 * `{"event": …, "delivery": …}` as `b24-receiver decode` prints it, credentials left out.
 * Lines are written one at a time, in handling order.
 */
export function eventsFile(path: string): (event: NormalizedEvent, ctx: HandlerContext) => Promise<void> {
  let queue: Promise<unknown> = mkdir(dirname(path), { recursive: true })
  return (event, ctx) => {
    const line = JSON.stringify({ event, delivery: { source: ctx.source, portal: ctx.portal, attempt: ctx.attempt } }) + '\n'
    const written = queue.then(() => appendFile(path, line, 'utf8'))
    queue = written.catch(() => undefined)
    return written
  }
}
