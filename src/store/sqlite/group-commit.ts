import type { Database } from 'better-sqlite3'
import { StoreUnavailableError } from '../store-unavailable-error.ts'

interface Pending {
  write: () => unknown
  resolve: (value: never) => void
  reject: (error: Error) => void
}

const MAX_BATCH = 128

/**
 * Every write of the SQLite store goes through here. A commit costs far more than a row, so
 * what is written during one turn of the event loop (every request parsed meanwhile, every
 * outcome the worker reports) goes into one transaction, and each caller hears back once it is
 * committed, or that it was not: then nothing of the batch was written.
 */
export class GroupCommit {
  readonly #db: Database
  #batch: Pending[] = []
  #immediate: NodeJS.Immediate | undefined
  #failure: Error | null = null

  constructor(db: Database) {
    this.#db = db
  }

  /** Why the last commit failed, or `null` when it went through. */
  get failure(): Error | null {
    return this.#failure
  }

  /**
   * Runs `write` in the next group commit; resolves with what it returned once committed.
   * @throws {StoreUnavailableError} when the commit fails.
   */
  write<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#batch.push({ write, resolve: resolve as (value: never) => void, reject })
      if (this.#batch.length >= MAX_BATCH) this.flush()
      else this.#immediate ??= setImmediate(() => this.flush())
    })
  }

  /** Commits what is waiting now (at close, or when a batch is full). */
  flush(): void {
    clearImmediate(this.#immediate)
    this.#immediate = undefined
    const batch = this.#batch
    this.#batch = []
    if (batch.length === 0) return
    let results: unknown[]
    try {
      results = this.#db.transaction(() => batch.map(({ write }) => write()))()
      this.#failure = null
    } catch (error) {
      this.#failure = error as Error
      const failure = new StoreUnavailableError('the inbox cannot store events now', { cause: error })
      for (const { reject } of batch) reject(failure)
      return
    }
    batch.forEach(({ resolve }, i) => resolve(results[i] as never))
  }
}
