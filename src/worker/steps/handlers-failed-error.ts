/** Some of an event's handlers threw: the attempt failed. */
export class HandlersFailedError extends Error {
  readonly errors: unknown[]

  constructor(errors: unknown[]) {
    super(errors.map((error) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error))).join('; '))
    this.name = 'HandlersFailedError'
    this.errors = errors
  }
}
