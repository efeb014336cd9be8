import { ReceiverError } from '../errors.ts'
import type { TokenSet } from './token-set.ts'

/** The request does not carry an accepted application token (401). */
export class UnauthorizedError extends ReceiverError {
  constructor(code: 'MISSING_TOKEN' | 'INVALID_TOKEN', message: string) {
    super(code, 401, message)
  }
}

/**
 * Checks the top-level `auth[application_token]` of a parsed webhook body against the accepted
 * tokens, in constant time; the only proof a POST came from Bitrix24 (../shared/WIRE.md §3).
 * A token anywhere else (`data[bot][auth]`) proves nothing.
 * @throws {UnauthorizedError} when it is missing, empty or not accepted for this portal.
 */
export function verifyToken(payload: Record<string, unknown>, tokens: TokenSet): void {
  const auth = payload.auth as Record<string, unknown> | undefined
  const token = typeof auth === 'object' && auth !== null ? auth.application_token : undefined
  if (typeof token !== 'string' || token === '') throw new UnauthorizedError('MISSING_TOKEN', 'auth[application_token] is missing')
  const memberId = typeof auth?.member_id === 'string' ? auth.member_id : null
  if (!tokens.accepts(token, memberId)) throw new UnauthorizedError('INVALID_TOKEN', 'auth[application_token] is not accepted here')
}
