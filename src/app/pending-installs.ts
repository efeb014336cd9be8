import type { Logger } from 'pino'
import { backoff } from '../backoff.ts'

/** What one confirmation came to: `settled` (confirmed, refused, or no longer pending) or `again` (the OAuth server could not answer). */
export type Confirmation = 'settled' | 'again'

/** The pause before the first new try, and the longest between tries. */
const BASE_MS = 1000
const MAX_MS = 300000

/**
 * Installs the OAuth server could not confirm when they arrived, tried again with exponential
 * backoff until it answers. Each portal is tried by one timer at a time in this process; replicas
 * may each try the same one, which is harmless (a confirmation is idempotent).
 */
export class PendingInstalls {
  readonly #confirm: (memberId: string) => Promise<Confirmation>
  readonly #logger: Logger
  readonly #timers = new Map<string, NodeJS.Timeout>()
  readonly #tries = new Map<string, number>()
  #stopped = false

  constructor(confirm: (memberId: string) => Promise<Confirmation>, logger: Logger) {
    this.#confirm = confirm
    this.#logger = logger
  }

  /** Tries `memberId` again after its next pause, unless a try is already scheduled. */
  schedule(memberId: string): void {
    if (this.#stopped || this.#timers.has(memberId)) return
    const tries = (this.#tries.get(memberId) ?? 0) + 1
    this.#tries.set(memberId, tries)
    this.#timers.set(memberId, setTimeout(() => void this.#run(memberId), backoff(tries, BASE_MS, MAX_MS)).unref())
  }

  /** How many are waiting for a try. */
  get size(): number {
    return this.#timers.size
  }

  stop(): void {
    this.#stopped = true
    for (const timer of this.#timers.values()) clearTimeout(timer)
    this.#timers.clear()
  }

  async #run(memberId: string): Promise<void> {
    let outcome: Confirmation
    try {
      outcome = await this.#confirm(memberId)
    } catch (error) {
      this.#logger.error({ err: error, memberId }, 'cannot confirm a pending install now: will try again')
      outcome = 'again'
    }
    this.#timers.delete(memberId)
    if (outcome === 'settled') this.#tries.delete(memberId)
    else this.schedule(memberId)
  }
}
