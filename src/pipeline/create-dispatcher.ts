import type { Logger } from 'pino'
import type { InboundEvent } from '../event/inbound-event.ts'
import { createContext } from '../router/create-context.ts'
import type { Router } from '../router/router.ts'
import type { Pipeline, PipelineStats, RejectedEvent } from './pipeline.ts'

/**
 * The in-process pipeline: an accepted event is handed to the router at once, in the
 * background; the dead letter is kept in memory and logged. Nothing here survives a restart.
 */
export function createDispatcher(router: Router, logger: Logger): Pipeline & { deadLetters: RejectedEvent[] } {
  const inFlight = new Set<Promise<void>>()
  const deadLetters: RejectedEvent[] = []
  const counts = { accepted: 0, rejected: 0, failed: 0, lastEventAt: null as string | null }

  async function handle(inbound: InboundEvent): Promise<void> {
    const ctx = createContext(inbound, logger)
    const result = await router.dispatch(inbound.event, ctx)
    if (result.errors.length > 0) {
      counts.failed++
      ctx.log.warn({ failures: result.errors.length, handlers: result.handled }, 'handlers failed')
    }
  }

  return {
    deadLetters,
    async accept(inbound) {
      counts.accepted++
      counts.lastEventAt = new Date().toISOString()
      const running: Promise<void> = handle(inbound).finally(() => inFlight.delete(running))
      inFlight.add(running)
    },
    async reject(rejected) {
      counts.rejected++
      deadLetters.push(rejected)
      logger.warn({ type: rejected.error.type, issues: rejected.error.issues }, 'event failed its schema: kept in the dead letter')
    },
    async drain(timeoutMs) {
      let timer: NodeJS.Timeout | undefined
      const deadline = new Promise<false>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)))
      const done = Promise.allSettled([...inFlight]).then(() => true)
      const finished = await Promise.race([done, deadline])
      clearTimeout(timer)
      return finished
    },
    stats: (): PipelineStats => ({ ...counts, inFlight: inFlight.size }),
  }
}
