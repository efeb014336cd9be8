import type { ChatEventOf } from '../../schemas/chat-event.ts'
import { CHAT_EVENT_TYPES, isChatEventType, type ChatEventType } from '../../schemas/event-data.ts'
import type { GenericEvent } from '../../schemas/chat-event.ts'
import type { NormalizedEvent } from '../event/decoded-event.ts'
import type { Waits } from '../wait.ts'
import type { HandlerContext } from './handler-context.ts'

/** A handler: may be async; a throw or rejection is reported to `onError`, never further. */
export type Handler<E> = (event: E, ctx: HandlerContext) => unknown
export type ErrorHandler = (error: unknown, event: NormalizedEvent, ctx: HandlerContext) => unknown

/** A handler ran past the router's `handlerTimeoutMs`. */
export class HandlerTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`the handler did not finish within ${timeoutMs} ms`)
    this.name = 'HandlerTimeoutError'
  }
}

/** What one dispatch did: how many handlers ran and the errors they threw. */
export interface DispatchResult {
  handled: number
  errors: unknown[]
}

/**
 * Routes normalized events to handlers: `on(type)` for the 13 chat events (with `event.data`
 * typed for that type), `onAny` for every event, `onUnknown` for the types the schemas do not
 * know, `onError` for what a handler throws. Handlers of one event run one after another, in
 * the order registered; a failing one does not stop the others.
 */
export class Router {
  readonly #timeoutMs: number | null
  readonly #byType = new Map<string, Array<Handler<never>>>()
  readonly #any: Array<Handler<NormalizedEvent>> = []
  readonly #unknown: Array<Handler<GenericEvent>> = []
  readonly #onError: ErrorHandler[] = []
  readonly #used: Router[] = []

  /** @param options.handlerTimeoutMs how long one handler may run before it counts as failed (none by default) */
  constructor(options: { handlerTimeoutMs?: number } = {}) {
    this.#timeoutMs = options.handlerTimeoutMs ?? null
  }

  /**
   * Handles one or several chat event types.
   * @throws {TypeError} for a type that is not one of the 13 (a misspelling fails at start).
   */
  on<K extends ChatEventType>(types: K | readonly K[], handler: Handler<ChatEventOf<K>>): this {
    for (const type of typeof types === 'string' ? [types] : types) {
      if (!isChatEventType(type)) throw new TypeError(`unknown event type '${String(type)}': expected one of ${CHAT_EVENT_TYPES.join(', ')}`)
      const handlers = this.#byType.get(type) ?? []
      handlers.push(handler as Handler<never>)
      this.#byType.set(type, handlers)
    }
    return this
  }

  /** Handles every event, known or not, after its typed handlers. */
  onAny(handler: Handler<NormalizedEvent>): this {
    this.#any.push(handler)
    return this
  }

  /** Handles events of types the schemas do not know (`ONCRMDEALADD`, `ONAPPINSTALL`, v1 events). */
  onUnknown(handler: Handler<GenericEvent>): this {
    this.#unknown.push(handler)
    return this
  }

  /** Hears what a handler throws. Without one, errors are only returned by {@link dispatch}. */
  onError(handler: ErrorHandler): this {
    this.#onError.push(handler)
    return this
  }

  /**
   * Adds another router's handlers after this one's own: a feature written as a router of its
   * own (the example bot) plugs into any receiver. Its errors reach its `onError` and this one's.
   */
  use(router: Router): this {
    if (router === this) throw new TypeError('a router cannot use itself')
    this.#used.push(router)
    return this
  }

  /**
   * Runs every handler the event has, then those of the routers it uses; never throws.
   * @param timeoutMs how long each handler may run (this router's `handlerTimeoutMs` by default)
   * @param waits the attempt's waits for something outside it (its portal's REST bucket): a
   *   handler's time stands still while one is under way
   */
  async dispatch(event: NormalizedEvent, ctx: HandlerContext, timeoutMs = this.#timeoutMs, waits?: Waits): Promise<DispatchResult> {
    const typed = isChatEventType(event.type) ? (this.#byType.get(event.type) ?? []) : (this.#unknown as Array<Handler<never>>)
    const result: DispatchResult = { handled: 0, errors: [] }
    for (const handler of [...typed, ...this.#any] as Array<Handler<NormalizedEvent>>) {
      result.handled++
      try {
        await limit(handler(event, ctx), timeoutMs, waits)
      } catch (error) {
        result.errors.push(error)
        await this.#report(error, event, ctx)
      }
    }
    for (const router of this.#used) {
      const used = await router.dispatch(event, ctx, timeoutMs, waits)
      result.handled += used.handled
      for (const error of used.errors) {
        result.errors.push(error)
        await this.#report(error, event, ctx)
      }
    }
    return result
  }

  async #report(error: unknown, event: NormalizedEvent, ctx: HandlerContext): Promise<void> {
    for (const listener of this.#onError) {
      try {
        await listener(error, event, ctx)
      } catch (failure) {
        ctx.log.error({ err: failure }, 'an onError handler failed')
      }
    }
  }
}

// A handler past its time counts as failed; it cannot be stopped, so it may still finish later.
// One that returned no promise has finished already. Its time runs only while it is not waiting
// for room outside it (`waits`): a call waiting for its portal's bucket is the portal's pace, not
// the handler being slow.
function limit(running: unknown, timeoutMs: number | null, waits?: Waits): unknown {
  if (timeoutMs === null || !(running instanceof Promise)) return running
  let left = timeoutMs
  let since = 0
  let timer: NodeJS.Timeout | undefined
  let stopFollowing: () => void = () => undefined
  return new Promise((resolve, reject) => {
    const run = () => {
      since = performance.now()
      timer = setTimeout(() => reject(new HandlerTimeoutError(timeoutMs)), left)
      timer.unref()
    }
    if (waits) {
      stopFollowing = waits.onChange((waiting) => {
        if (!waiting) return run()
        clearTimeout(timer)
        left -= performance.now() - since
      })
    }
    if (!waits?.waiting) run()
    running.then(resolve, reject)
  }).finally(() => {
    clearTimeout(timer)
    stopFollowing()
  })
}
