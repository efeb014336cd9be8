import { chatKey, dedupKey, rejectedKey } from '../event/event-keys.ts'
import type { Inbox } from '../inbox/inbox.ts'
import type { Worker } from '../inbox/worker.ts'
import type { Pipeline } from './pipeline.ts'

/**
 * The durable pipeline: an event is acknowledged once committed to the inbox, then handled by
 * the worker; a double delivery is stored once; schema failures go to the dead letter.
 */
export function createInboxPipeline(inbox: Inbox, worker: Worker): Pipeline {
  const counts = { accepted: 0, duplicates: 0, rejected: 0, lastEventAt: null as string | null }
  return {
    async accept(inbound) {
      const eventJson = JSON.stringify(inbound.event)
      const key = dedupKey(inbound, eventJson)
      const stored = await inbox.add({ inbound, eventJson, dedupKey: key, chatKey: chatKey(inbound, key) })
      if (stored) {
        counts.accepted++
        counts.lastEventAt = new Date().toISOString()
      } else counts.duplicates++
    },
    async reject({ payload, portal, credentials, error, source }) {
      const stored = await inbox.addRejected({ type: error.type, payload, portal, credentials, error: error.message, dedupKey: rejectedKey(portal, payload), source })
      if (stored) counts.rejected++
    },
    unavailable: () => (inbox.writable ? null : 'the inbox cannot be written'),
    drain: (timeoutMs) => worker.stop(timeoutMs),
    stats() {
      const { inFlight, failedAttempts } = worker.stats()
      let figures = null
      try {
        figures = inbox.stats()
      } catch {
        // An unreadable inbox: /health says so by leaving its figures out.
      }
      return { ...counts, failed: failedAttempts, inFlight, inbox: figures }
    },
  }
}
