import { ReceiverError } from '../errors.ts'

/** The OAuth server cannot vouch for a new application token now: nothing changes (503). */
export class InstallNotConfirmedYet extends ReceiverError {
  constructor(options?: ErrorOptions) {
    super('INSTALL_NOT_CONFIRMED_YET', 503, 'the OAuth server cannot confirm this install now', options)
  }
}

/** A bound on what pending installs may hold is reached: nothing of the event is stored (503). */
export class PendingInstallsFull extends ReceiverError {
  constructor(message: string) {
    super('TOO_MANY_PENDING_INSTALLS', 503, message)
  }
}

/** The candidate an event was to be stored under was settled meanwhile. */
export class CandidateGone extends Error {}
