import type { DecodedEvent } from '../../event/decoded-event.ts'
import type { AppPortal } from '../../router/create-context.ts'
import type { HandlerContext } from '../../router/handler-context.ts'
import type { StoredRecord } from '../../store/store.ts'
import type { Wait } from '../../wait.ts'

/** Why a step stopped the chain before the handlers: a double delivery (dedup), an event its portal forgot (admission). */
export type SkipReason = 'duplicate' | 'forgotten'

/**
 * One attempt at a stored record, as the worker's steps pass it along: each step adds what it
 * learned, and the steps after it read it (so each field is set before any step that reads it).
 */
export interface Attempt {
  readonly record: StoredRecord
  /** 1 on the first try, more on a retry. */
  readonly number: number
  /** Aborts when the record's claim is lost: the handlers see it as `ctx.signal`. */
  readonly signal: AbortSignal
  /** How it waits for room outside it (its portal's REST bucket): the worker lends its slot meanwhile. */
  readonly wait: Wait
  /** The decode step's: the event and how it arrived. */
  decoded?: DecodedEvent
  /** The admission step's, in application mode: the portal the event came from, as stored. */
  portal?: AppPortal
  /** The dedup step's: the event's identity, kept for the dedup window once the record is done. */
  key?: string
  /** The handlers step's: what the handlers got, for the sinks. */
  handlerContext?: HandlerContext
  /** Said by the step that stopped the chain: the record is done, unhandled. */
  skipped?: SkipReason
}
