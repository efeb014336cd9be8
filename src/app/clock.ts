/**
 * Where the confirmations of pending installs read the time and wait: the system's clock, or a
 * test's own (minutes of an OAuth outage run in milliseconds).
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
