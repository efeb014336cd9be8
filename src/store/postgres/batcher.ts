/** What one batch is given: the items of the calls it answers. */
export type RunBatch<T> = (items: T[]) => Promise<void>

interface Pending<T> {
  item: T
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * Gathers the calls of one event-loop turn into one statement: a commit (an fsync, with
 * `synchronous_commit` on) costs far more than a row. Each call resolves once its batch has
 * run, or rejects with the batch's error. At most `maxInFlight` batches run at once; what comes
 * meanwhile waits for the next, which waiting makes bigger.
 */
export class Batcher<T> {
  readonly #run: RunBatch<T>
  readonly #maxBatch: number
  readonly #maxInFlight: number
  #batch: Array<Pending<T>> = []
  #scheduled = false
  readonly #inFlight = new Set<Promise<void>>()

  constructor(run: RunBatch<T>, options: { maxBatch: number; maxInFlight: number }) {
    this.#run = run
    this.#maxBatch = options.maxBatch
    this.#maxInFlight = options.maxInFlight
  }

  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#batch.push({ item, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => {
          this.#scheduled = false
          this.#flush()
        })
      }
    })
  }

  /** Runs what is waiting and resolves once every batch has run (each call answered). */
  async drain(): Promise<void> {
    this.#flush()
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight)
  }

  #flush(): void {
    while (this.#batch.length > 0 && this.#inFlight.size < this.#maxInFlight) {
      const batch = this.#batch.splice(0, this.#maxBatch)
      const running: Promise<void> = this.#run(batch.map(({ item }) => item)).then(
        () => batch.forEach(({ resolve }) => resolve()),
        (error: unknown) => batch.forEach(({ reject }) => reject(error)),
      )
      const tracked = running.finally(() => {
        this.#inFlight.delete(tracked)
        this.#flush()
      })
      this.#inFlight.add(tracked)
    }
  }
}
