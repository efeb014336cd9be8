/**
 * Where what waits on time reads it and waits (the confirmations of pending installs, the REST
 * pacer, a receiver's lifecycle): the system's clock, or a test's own (minutes of an OAuth outage
 * or of a portal's bucket run in milliseconds).
 */
export interface Clock {
  /** Epoch ms. */
  now(): number
  /** Runs `callback` once `ms` have passed; returns what cancels it. It keeps no process alive. */
  setTimeout(callback: () => void, ms: number): () => void
}

/** The system's clock and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms).unref()
    return () => clearTimeout(timer)
  },
}
