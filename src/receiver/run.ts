import { Application } from '../app/application.ts'
import { createIngest, type Ingest } from '../door/ingest.ts'
import type { ReceiverMetrics } from '../metrics/receiver-metrics.ts'
import { openPoller } from '../poll/open-poller.ts'
import type { Pacer } from '../bitrix/pacer.ts'
import type { Poller } from '../poll/poller.ts'
import type { Router } from '../router/router.ts'
import type { Sealer } from '../seal/sealer.ts'
import { eventsFile } from '../sinks/events-file.ts'
import { logEvent } from '../sinks/log-event.ts'
import type { Store } from '../store/store.ts'
import { createDispatch } from '../worker/create-dispatch.ts'
import { Worker } from '../worker/worker.ts'
import { RECEIVER_DEFAULTS, withDefaults } from './receiver-options.ts'
import type { ReceiverSettings } from './receiver-settings.ts'

/** What runs once the store is open and unsealed: the ingest both doors store through, the worker, the poller and application mode. */
export interface Running {
  ingest: Ingest
  worker: Worker
  poller: Poller | null
  application: Application | null
}

export interface RunParts {
  settings: ReceiverSettings
  /** Whose handlers the worker runs. */
  router: Router
  metrics: ReceiverMetrics
  /** This replica's one name: the poller's lease and application mode's refresh leases hold it. */
  replica: string
  /** The receiver's one REST pacer: every call to a portal, from a handler, application mode or the poller, waits in it. */
  pacer: Pacer
}

/** Starts the parts behind the doors on an open store: application mode's background work, the worker, the poller. */
export function run(store: Store, sealer: Sealer, { settings, router, metrics, replica, pacer }: RunParts): Running {
  const { options, logger } = settings
  const rest = { ...settings.rest, pacer }
  const ingest = createIngest(store, sealer, metrics.ingest)
  let application: Application | null = null
  if (options.app) {
    application = new Application({
      options: options.app,
      portals: store.portals as NonNullable<Store['portals']>,
      candidates: store.candidates as NonNullable<Store['candidates']>,
      leases: store.leases,
      deadLetters: store.deadLetters,
      sealer,
      logger,
      restTimeoutMs: rest.timeoutMs,
      pacer,
      owner: replica,
      tokens: settings.tokens,
      clock: options.app.clock ?? settings.clock,
    })
    application.start().catch((error: unknown) => logger.error({ err: error }, 'cannot read the pending installs'))
  }
  const dispatch = createDispatch({
    router,
    sinks: [...(options.logEvents === false ? [] : [logEvent]), ...(options.eventsFile ? [eventsFile(options.eventsFile)] : [])],
    logger,
    handlerTimeoutMs: settings.worker.handlerTimeoutMs,
    rest,
    sealer,
    formLimits: settings.formLimits,
    seen: (key) => store.queue.seen(key),
    app: application ?? undefined,
  })
  const worker = new Worker(store.queue, dispatch, logger, { ...settings.worker, observe: metrics.worker })
  worker.start()
  let poller: Poller | null = null
  if (options.poll) {
    poller = openPoller({ ...withDefaults(RECEIVER_DEFAULTS.poll, options.poll), mode: options.poll.mode }, rest, ingest, store, { logger, replica })
    poller.start()
  }
  return { ingest, worker, poller, application }
}
