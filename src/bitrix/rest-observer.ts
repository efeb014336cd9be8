/** What one request to a portal came to: answered, refused for a limit, or failed as the error's class says. */
export type RestOutcome = 'ok' | 'limited' | 'fatal' | 'transient' | 'error'

/** What a call waited for before it was sent: its portal's bucket, a method the portal holds, a method spaced out near its operating limit. */
export type RestWait = 'bucket' | 'held' | 'spaced'

/** Where REST calls are counted (the receiver's metrics: ../metrics/rest-metrics.ts): the pacer tells it of every request and wait. */
export interface RestObserver {
  /** One request sent and how it ended. */
  called(method: string, outcome: RestOutcome): void
  /** An answer that refused a call for a limit, by its code (`QUERY_LIMIT_EXCEEDED`, `OPERATION_TIME_LIMIT`). */
  limited(code: string): void
  /** A call waited this long before it was sent. */
  waited(reason: RestWait, seconds: number): void
}
