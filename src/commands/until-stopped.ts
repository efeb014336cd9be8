/**
 * Resolves once SIGINT or SIGTERM arrives and `close` has finished: how a long-running command
 * (`serve`, `fake-portal`) ends. Its listeners go with it.
 */
export function untilStopped(close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      void close().then(resolve)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
