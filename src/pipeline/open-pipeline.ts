import type { Logger } from 'pino'
import type { Config } from '../config/load-config.ts'
import type { Inbox } from '../inbox/inbox.ts'
import { InboxUnavailableError } from '../inbox/inbox-error.ts'
import { openInbox } from '../inbox/open-inbox.ts'
import { Worker } from '../inbox/worker.ts'
import type { Router } from '../router/router.ts'
import { createInboxPipeline } from './create-inbox-pipeline.ts'
import type { Pipeline } from './pipeline.ts'

const REOPEN_MS = 5000
const PURGE_MS = 60000

/** The pipeline of a running service, and what it holds open. */
export interface OpenPipeline extends Pipeline {
  /** The inbox, once open (the poller keeps its offset there). */
  inbox(): Inbox | null
  close(): void
}

/**
 * Opens the inbox under `DATA_DIR` and starts its worker. When the inbox cannot be opened
 * (unwritable or corrupt `DATA_DIR`) the service still runs, refusing events with 503 and
 * saying why on `/ready`, and tries again every few seconds: nothing is acknowledged that
 * could not be stored.
 */
export function openPipeline(config: Pick<Config, 'dataDir' | 'inbox' | 'worker'> & Partial<Pick<Config, 'rest'>>, router: Router, logger: Logger, reopenMs = REOPEN_MS): OpenPipeline {
  let current: { pipeline: Pipeline; inbox: Inbox } | null = null
  let failure = ''
  let timer: NodeJS.Timeout | undefined

  const open = () => {
    try {
      const inbox = openInbox(config)
      const worker = new Worker(inbox, router, logger, { ...config.worker, pollIntervalMs: 1000, rest: config.rest })
      current = { pipeline: createInboxPipeline(inbox, worker), inbox }
      worker.start()
      if (failure) logger.info('the inbox is available again')
      timer = setInterval(() => inbox.purgeExpiredKeys(), PURGE_MS).unref()
    } catch (error) {
      const message = (error as Error).message
      if (message !== failure) logger.error({ dataDir: config.dataDir }, `${message}: events are refused with 503 until it is fixed`)
      failure = message
      timer = setTimeout(open, reopenMs).unref()
    }
  }
  open()

  const refuse = (): never => {
    throw new InboxUnavailableError(failure)
  }
  return {
    accept: async (inbound) => (current ? current.pipeline.accept(inbound) : refuse()),
    reject: async (rejected) => (current ? current.pipeline.reject(rejected) : refuse()),
    unavailable: () => (current ? current.pipeline.unavailable() : failure),
    drain: async (timeoutMs) => (current ? current.pipeline.drain(timeoutMs) : true),
    stats: () =>
      current?.pipeline.stats() ?? { accepted: 0, duplicates: 0, rejected: 0, failed: 0, inFlight: 0, lastEventAt: null, inbox: null },
    inbox: () => current?.inbox ?? null,
    close() {
      clearTimeout(timer) // a reopen timeout or the purge interval: Node clears either
      current?.inbox.close()
    },
  }
}
