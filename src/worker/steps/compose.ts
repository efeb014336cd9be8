/**
 * One step of a chain: does its part with `ctx`, then calls `next` for the steps after it, or
 * does not, and the chain stops there. Code after `await next()` runs once the later steps are
 * done (a step can wrap the rest of the chain); what a step throws ends the chain.
 */
export type Step<C> = (ctx: C, next: () => Promise<void>) => Promise<void>

/**
 * Runs `steps` in order as one function. `next` may be called once per step: a second call
 * would run the later steps again.
 * @throws {Error} when a step calls `next` twice (a bug in that step).
 */
export function compose<C>(steps: ReadonlyArray<Step<C>>): (ctx: C) => Promise<void> {
  const from = async (index: number, ctx: C): Promise<void> => {
    const step = steps[index]
    if (!step) return
    let called = false
    await step(ctx, () => {
      if (called) return Promise.reject(new Error(`step ${index} called next() twice`))
      called = true
      return from(index + 1, ctx)
    })
  }
  return (ctx) => from(0, ctx)
}
