/** The label value that stands for every value past the cap. */
export const OTHER_LABEL = 'other'

/**
 * The labelled children of a label whose values come from the wire (event types): made once per
 * value and kept, so the hot path allocates nothing; past `limit` values, every new one shares
 * {@link OTHER_LABEL}, so a sender of made-up types cannot grow the series without bound.
 */
export function labelledCache<T>(make: (label: string) => T, limit: number): (value: string) => T {
  const children = new Map<string, T>()
  let other: T | undefined
  return (value) => {
    let child = children.get(value)
    if (child === undefined) {
      if (children.size >= limit) return (other ??= make(OTHER_LABEL))
      child = make(value)
      children.set(value, child)
    }
    return child
  }
}
