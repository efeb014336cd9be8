// Codes from the REST docs (_includes/system-errors.md and the imbot.v2 method pages).
// Retrying helps with these: the portal is busy or had a hiccup.
// APP_INSTALL_PENDING is ours: the OAuth server has not confirmed the portal's install yet.
const TRANSIENT = new Set(['QUERY_LIMIT_EXCEEDED', 'OPERATION_TIME_LIMIT', 'INTERNAL_SERVER_ERROR', 'ERROR_UNEXPECTED_ANSWER', 'NETWORK_ERROR', 'TIMEOUT', 'APP_INSTALL_PENDING'])
// Retrying never helps with these: the credentials, the bot or the method are wrong until someone fixes them.
// The OAuth server's (settings/oauth/error-codes.md), APP_NOT_INSTALLED and UNTRUSTED_ENDPOINT (ours:
// an event pointed ctx.bitrix at a host it may not call) are among them.
const FATAL = new Set([
  'invalid_grant',
  'invalid_client',
  'wrong_client',
  'APP_NOT_INSTALLED',
  'NO_AUTH_FOUND',
  'INVALID_CREDENTIALS',
  'INVALID_REQUEST',
  'OVERLOAD_LIMIT',
  'ACCESS_DENIED',
  'insufficient_scope',
  'expired_token',
  'invalid_token',
  'user_access_error',
  'PORTAL_DELETED',
  'ERROR_METHOD_NOT_FOUND',
  'BOT_NOT_FOUND',
  'BOT_OWNERSHIP_ERROR',
  'BOT_ID_REQUIRED',
  'BOT_TOKEN_NOT_SPECIFIED',
  'SCOPE_ERROR',
  'AUTH_ERROR',
  'NO_REST_CREDENTIALS',
  'UNTRUSTED_ENDPOINT',
  // Ours: ctx.reply on an event with no bot and dialog to answer in (a handler's mistake).
  'NO_REPLY_DIALOG',
  // A batch too long, or holding a batch: the same request fails the same way again.
  'ERROR_BATCH_LENGTH_EXCEEDED',
  'ERROR_BATCH_METHOD_NOT_ALLOWED',
])
const DESCRIPTION_CHARS = 300

/**
 * A Bitrix24 REST call that failed: the portal's own `{error, error_description}`, an HTTP status
 * without one (`HTTP_502`), or no answer at all (`NETWORK_ERROR`, `TIMEOUT`). Its message names the
 * method and the code, never the URL (an inbound webhook URL holds its secret) nor a token.
 */
export class BitrixError extends Error {
  /** The Bitrix24 error code (`BOT_NOT_FOUND`, `QUERY_LIMIT_EXCEEDED`, …) or one of ours. */
  readonly code: string
  /** The HTTP status, or `null` when there was no answer. */
  readonly status: number | null
  readonly description: string
  readonly method: string

  constructor(method: string, code: string, status: number | null, description: string, options?: ErrorOptions) {
    const text = description.slice(0, DESCRIPTION_CHARS)
    super(`${method}: ${code}${status === null ? '' : ` (HTTP ${status})`}${text ? `: ${text}` : ''}`, options)
    this.name = 'BitrixError'
    this.method = method
    this.code = code
    this.status = status
    this.description = text
  }

  /** Worth trying again later: network, timeout, rate limit (HTTP 429), any other 5xx. */
  get transient(): boolean {
    return !FATAL.has(this.code) && (TRANSIENT.has(this.code) || this.status === 429 || (this.status !== null && this.status >= 500))
  }

  /**
   * Never worth trying again as is: bad credentials, an unknown or foreign bot, a missing scope.
   * The code decides whatever the status (a portal may send `BOT_NOT_FOUND` with a 500); a bare
   * 401 or 403 is fatal too.
   */
  get fatal(): boolean {
    return FATAL.has(this.code) || (!this.transient && (this.status === 401 || this.status === 403))
  }

  /** Told to slow down (HTTP 429, `QUERY_LIMIT_EXCEEDED`, `OPERATION_TIME_LIMIT`). */
  get rateLimited(): boolean {
    return this.status === 429 || this.code === 'QUERY_LIMIT_EXCEEDED' || this.code === 'OPERATION_TIME_LIMIT'
  }
}
