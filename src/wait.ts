/**
 * How an attempt waits for something outside it: its portal's REST bucket, or a method the portal
 * holds back (`OPERATION_TIME_LIMIT`). Every such wait goes through the attempt's `Wait`, so that
 * meanwhile the worker lends the attempt's slot to other events (a portal waiting on its bucket
 * does not hold up the others) and the handler's timeout stands still (waiting for room is not
 * the handler being slow). Resolves or rejects as `waiting` does.
 */
export type Wait = <T>(waiting: Promise<T>) => Promise<T>

/** Waiting that tells no one: outside a worker's attempt. */
export const justWait: Wait = (waiting) => waiting

/**
 * Follows the waits of one attempt: whether one is under way, told to listeners as the first
 * begins and the last ends (the handler's timeout stands still meanwhile). Each wait goes through
 * `outer` too (the worker's, which lends the attempt's slot).
 */
export class Waits {
  readonly #outer: Wait
  readonly #listeners = new Set<(waiting: boolean) => void>()
  #count = 0

  constructor(outer: Wait = justWait) {
    this.#outer = outer
  }

  readonly wait: Wait = async (waiting) => {
    this.#change(1)
    try {
      return await this.#outer(waiting)
    } finally {
      this.#change(-1)
    }
  }

  get waiting(): boolean {
    return this.#count > 0
  }

  /** Calls `listener` with `true` as the first wait begins and `false` as the last ends; returns how to stop. */
  onChange(listener: (waiting: boolean) => void): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  #change(by: 1 | -1): void {
    this.#count += by
    if (this.#count === (by === 1 ? 1 : 0)) for (const listener of this.#listeners) listener(by === 1)
  }
}
