import type { ValidationIssue } from '../schemas/reply.ts'

// Errors that reach a caller carry an HTTP status and a stable code; messages never hold a value
// from the input, so no token can leak through them.

/** Base of the errors b24-receiver reports to its callers. */
export class ReceiverError extends Error {
  readonly statusCode: number
  readonly code: string

  constructor(code: string, statusCode: number, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.statusCode = statusCode
  }
}

/** The body is not a readable form or JSON document, or it breaks a parser limit (400). */
export class MalformedBodyError extends ReceiverError {
  constructor(message: string, options?: ErrorOptions) {
    super('MALFORMED_BODY', 400, message, options)
  }
}

/** The body parses but is not a Bitrix24 event envelope (400). */
export class EnvelopeError extends ReceiverError {
  constructor(message: string) {
    super('NOT_AN_EVENT', 400, message)
  }
}

export type { ValidationIssue }

const LISTED_ISSUES = 20

/** A known event whose data does not match its schema: the worker dead-letters it; the issues name paths, never values. */
export class EventValidationError extends ReceiverError {
  readonly type: string
  readonly issues: ValidationIssue[]

  constructor(type: string, issues: ValidationIssue[]) {
    const listed = issues.slice(0, LISTED_ISSUES).map((issue) => `${issue.path}: ${issue.message}`)
    if (issues.length > LISTED_ISSUES) listed.push(`and ${issues.length - LISTED_ISSUES} more`)
    super('INVALID_EVENT', 422, `${type} does not match its schema: ${listed.join('; ')}`)
    this.type = type
    this.issues = issues
  }
}

/** Options or an environment that do not describe a receiver that can start; the message names the setting. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** The body is neither a form nor JSON (415). */
export class UnsupportedMediaTypeError extends ReceiverError {
  constructor(message = 'send application/x-www-form-urlencoded or application/json') {
    super('UNSUPPORTED_MEDIA_TYPE', 415, message)
  }
}

/** The body is larger than the configured limit (413). */
export class BodyTooLargeError extends ReceiverError {
  constructor() {
    super('BODY_TOO_LARGE', 413, 'the body is larger than the configured limit')
  }
}

/** A command's arguments, or what they point at, will not do: one line on stderr, exit 1 (exit 2 is for an unknown command). */
export class BadArgumentsError extends ReceiverError {
  constructor(message: string) {
    super('BAD_ARGUMENTS', 400, message)
  }
}
