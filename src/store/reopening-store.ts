import type { Logger } from 'pino'
import { ProcessRestBuckets } from './process-rest-buckets.ts'
import type { Candidates, Portals, Queue, Store } from './store.ts'
import { StoreUnavailableError } from './store-unavailable-error.ts'

/**
 * A store that may not open at first (an unwritable or corrupt `DATA_DIR`, a database not up
 * yet): until it does, appends are refused with {@link StoreUnavailableError} (a 503: nothing is
 * acknowledged that could not be kept), `unavailable()` says why, and opening is tried again
 * every `retryMs`. Once open, it is that store.
 */
export function reopeningStore(open: () => Store, logger: Logger, retryMs = 5000): Store {
  let current: Store | null = null
  let failure = ''
  let timer: NodeJS.Timeout | undefined
  let closed = false
  const listeners = new Set<() => void>()
  const notify = () => {
    for (const listener of listeners) listener()
  }

  const attempt = () => {
    try {
      current = open()
    } catch (error) {
      const message = (error as Error).message
      if (message !== failure) logger.error(`${message}: events are refused with 503 until it is fixed`)
      failure = message
      timer = setTimeout(attempt, retryMs).unref()
      return
    }
    if (failure) logger.info('the inbox is available again')
    current.queue.onAvailable(notify)
    notify()
  }
  attempt()

  const opened = (): Store => {
    if (!current) throw new StoreUnavailableError(failure)
    return current
  }
  const queue: Queue = {
    claim: async (limit, skip) => (current ? current.queue.claim(limit, skip) : []),
    seen: async (key) => opened().queue.seen(key),
    complete: async (claim, key) => opened().queue.complete(claim, key),
    retry: async (claim, attempts, nextAt, error) => opened().queue.retry(claim, attempts, nextAt, error),
    bury: async (claim, attempts, error) => opened().queue.bury(claim, attempts, error),
    release: async (claim) => opened().queue.release(claim),
    onAvailable(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
  }
  // The embedded store it wraps has portals and candidates: reached only once it is open.
  const portals = () => opened().portals as Portals
  const candidates = () => opened().candidates as Candidates
  return {
    append: async (record) => opened().append(record),
    portals: {
      get: async (memberId) => portals().get(memberId),
      list: async () => portals().list(),
      put: async (row) => portals().put(row),
      update: async (memberId, patch) => portals().update(memberId, patch),
      delete: async (memberId) => portals().delete(memberId),
      purge: async (before) => portals().purge(before),
    },
    candidates: {
      get: async (id) => candidates().get(id),
      of: async (memberId) => candidates().of(memberId),
      list: async () => candidates().list(),
      add: async (candidate, first, bounds) => candidates().add(candidate, first, bounds),
      append: async (id, record, maxEvents) => candidates().append(id, record, maxEvents),
      confirm: async (id, portal) => candidates().confirm(id, portal),
      drop: async (id) => candidates().drop(id),
      stats: async () => candidates().stats(),
    },
    queue,
    // One process calls the portals: its buckets need no store, and pace even while it cannot be opened.
    restBuckets: new ProcessRestBuckets(),
    get deadLetters() {
      return opened().deadLetters
    },
    get meta() {
      return opened().meta
    },
    get leases() {
      return opened().leases
    },
    stats: async () => opened().stats(),
    unavailable: () => (current ? current.unavailable() : failure),
    async close() {
      if (closed) return
      closed = true
      clearTimeout(timer)
      await current?.close()
    },
  }
}
