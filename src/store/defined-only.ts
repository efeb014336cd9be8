/** `options` without its `undefined` entries: spread over defaults, an unset option (an unset variable) keeps the default. */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>
}
