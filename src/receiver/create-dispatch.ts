import type { Logger } from 'pino'
import type { RestSettings } from '../bitrix/bitrix.ts'
import { dedupKey } from '../event/event-keys.ts'
import type { InboundEvent, NormalizedEvent } from '../event/inbound-event.ts'
import { decodeRecord, openCredentials } from '../ingest/decode-record.ts'
import type { Application } from '../app/application.ts'
import { createContext, type AppPortal } from '../router/create-context.ts'
import type { HandlerContext } from '../router/handler-context.ts'
import type { Router } from '../router/router.ts'
import type { Sealer } from '../seal/sealer.ts'
import type { Queue, StoredRecord } from '../store/store.ts'
import { Undeliverable, type Dispatch } from '../worker/worker.ts'
import type { FormLimits } from '../wire/parse-form.ts'

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
  /** Opens the credentials stored with a record. */
  sealer: Sealer
  /** Bounds on decoding a form: past them, the record goes to the dead letter. */
  formLimits?: Partial<FormLimits>
  /** Whether a dedup key was handled within the window. */
  seen: Queue['seen']
  /** Application mode: which webhook events to drop, and how to call their portal. */
  app?: Pick<Application, 'admission' | 'portal'>
}

/**
 * What the worker runs for each stored record: decode its wire (what does not decode is
 * {@link Undeliverable}), skip a double delivery (its dedup key seen), then the router's
 * handlers, then the sinks. When a sink fails after the handlers succeeded, the retry runs the
 * sinks alone: the handlers' effects (a bot's answer) are not repeated within this process.
 */
export function createDispatch({ router, sinks, logger, handlerTimeoutMs, rest, sealer, formLimits, seen, app }: DispatchOptions): Dispatch {
  const handled = new Set<number>()
  return async (record, attempt) => {
    const inbound = decode(record, sealer, formLimits)
    let portal: AppPortal | undefined
    if (app && record.source === 'webhook') {
      const admission = await app.admission(record.type, inbound.delivery.credentials)
      if (admission.verdict === 'forget') {
        logger.info({ type: record.type, memberId: record.portal.memberId, inboxId: record.id }, 'dropped an event of a portal that was refused or uninstalled')
        return { key: null, forgotten: true }
      }
      if (admission.portal) portal = { row: admission.portal, bitrix: app.portal(admission.portal.memberId) }
    }
    const key = dedupKey(inbound)
    if (!handled.has(record.id) && (await seen(key))) return { key, duplicate: true }
    const ctx = createContext(inbound, logger, attempt, key, rest, portal)
    if (!handled.has(record.id)) {
      const { errors } = await router.dispatch(inbound.event, ctx, handlerTimeoutMs)
      if (errors.length > 0) throw new HandlersFailedError(errors)
      handled.add(record.id)
    }
    for (const sink of sinks) await sink(inbound.event, ctx)
    handled.delete(record.id)
    return { key }
  }
}

function decode(record: StoredRecord, sealer: Sealer, formLimits?: Partial<FormLimits>): InboundEvent {
  const credentials = openCredentials(record, sealer)
  try {
    return decodeRecord(record, credentials, formLimits)
  } catch (error) {
    // What a decoder refuses now it refuses on every attempt: the dead letter keeps it for a replay.
    throw new Undeliverable((error as Error).message, { cause: error })
  }
}
