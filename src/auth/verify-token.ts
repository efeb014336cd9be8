import { ReceiverError } from '../errors.ts'
import type { Credentials } from '../event/credentials.ts'
import type { TokenSet } from './token-set.ts'

/** The request does not carry an accepted application token (401). */
export class UnauthorizedError extends ReceiverError {
  constructor(code: 'MISSING_TOKEN' | 'INVALID_TOKEN' | 'INSTALL_NOT_CONFIRMED', message: string, options?: ErrorOptions) {
    super(code, 401, message, options)
  }
}

/**
 * Checks the top-level `auth[application_token]` a webhook came with against the accepted
 * tokens, in constant time; the only proof a POST came from Bitrix24 (../shared/WIRE.md §3).
 * A token anywhere else (`data[bot][auth]`) proves nothing. A pinned entry binds what it names:
 * the member (`auth[member_id]`), and the domain (`auth[domain]`) when it names one.
 * @throws {UnauthorizedError} when it is missing, empty or not accepted for this portal.
 */
export function verifyToken(credentials: Credentials, tokens: TokenSet): void {
  const token = credentials.applicationToken
  if (!token) throw new UnauthorizedError('MISSING_TOKEN', 'auth[application_token] is missing')
  if (!tokens.accepts(token, credentials.auth?.member_id ?? null, credentials.auth?.domain ?? null)) throw new UnauthorizedError('INVALID_TOKEN', 'auth[application_token] is not accepted here')
}
