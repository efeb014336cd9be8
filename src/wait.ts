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
