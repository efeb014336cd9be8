import type { Logger } from 'pino'
import type { RestSettings } from '../bitrix/bitrix.ts'
import type { Router } from '../router/router.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { Queue } from '../store/store.ts'
import type { FormLimits } from '../wire/parse-form.ts'
import { admission, type Admitter } from './steps/admission.ts'
import type { Attempt } from './steps/attempt.ts'
import { compose } from './steps/compose.ts'
import { decode } from './steps/decode.ts'
import { dedup } from './steps/dedup.ts'
import { handlers } from './steps/handlers.ts'
import { sinks, type Sink } from './steps/sinks.ts'
import { justWait } from '../wait.ts'
import type { Dispatch } from './worker.ts'

export interface DispatchOptions {
  router: Pick<Router, 'dispatch'>
  sinks: Sink[]
  logger: Logger
  /** How long one handler may run before it counts as failed. */
  handlerTimeoutMs: number
  rest?: RestSettings
  /** Opens the credentials stored with a record. */
  sealer: Sealer
  /** Bounds on decoding a form: past them, the record goes to the dead letter. */
  formLimits?: Partial<FormLimits>
  /** Whether a dedup key was handled within the window. */
  seen: Queue['seen']
  /** Application mode: which webhook events to drop, and how to call their portal. */
  app?: Admitter
}

/**
 * What the worker runs for each stored record: the chain [decode, admission (application mode
 * only), dedup, handlers, sinks]. A step that stops it (a double delivery, an event its portal
 * forgot) leaves the record done unhandled, saying why; what a step throws fails the attempt.
 */
export function createDispatch(options: DispatchOptions): Dispatch {
  const run = compose<Attempt>([
    decode(options.sealer, options.formLimits),
    ...(options.app ? [admission(options.app, options.logger)] : []),
    dedup(options.seen),
    handlers(options),
    sinks(options.sinks),
  ])
  return async (record, number, signal, wait = justWait) => {
    const attempt: Attempt = { record, number, signal, wait }
    await run(attempt)
    const key = attempt.key ?? null
    return attempt.skipped ? { key, skipped: attempt.skipped } : { key }
  }
}
