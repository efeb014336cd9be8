import type { Logger } from 'pino'
import type { PortalRow } from '../../../schemas/portal.ts'
import type { Bitrix } from '../../bitrix/bitrix.ts'
import type { Credentials } from '../../event/credentials.ts'
import type { DecodedEvent } from '../../event/decoded-event.ts'
import { NewerFormatError } from '../../store/newer-format-error.ts'
import { Postponed } from '../worker.ts'
import type { Attempt } from './attempt.ts'
import type { Step } from './compose.ts'

/** How long an event whose portal a newer version stored waits before it is asked about again. */
export const NEWER_PORTAL_WAIT_MS = 60000

/** What application mode says of a stored webhook event: hand it over (with its portal's row, if stored), or drop it. */
export type Admission = { verdict: 'handle'; portal: PortalRow | null } | { verdict: 'forget' }

/** What the admission step asks of application mode. */
export interface Admitter {
  /** Whether the event of `type` with these credentials is still wanted: its portal may have forgotten it since it was stored. */
  admission(type: string, credentials: Credentials): Promise<Admission>
  /** The client that calls `memberId` as the application. */
  portal(memberId: string): Bitrix
}

/**
 * Application mode's step, after decoding: a webhook event of a portal that forgot it since it
 * was stored (uninstalled with `CLEAN`) is dropped, the record done unhandled; one that is
 * handed over carries its portal's row and the client that calls it as the application. A
 * polled event came through the configured inbound webhook: nothing to ask. An event whose
 * portal a newer version stored is postponed.
 */
export const admission =
  (app: Admitter, logger: Logger): Step<Attempt> =>
  async (attempt, next) => {
    const { record } = attempt
    if (record.source === 'webhook') {
      const { delivery } = attempt.decoded as DecodedEvent
      const admitted = await app.admission(record.type, delivery.credentials).catch((error: unknown) => {
        // Its portal's row is a newer version's: neither this replica's to read nor the event's
        // fault. It waits, spending no attempt (never dead-lettered here), for a replica that knows it.
        throw error instanceof NewerFormatError ? new Postponed(error.message, NEWER_PORTAL_WAIT_MS) : error
      })
      if (admitted.verdict === 'forget') {
        logger.info({ type: record.type, memberId: record.portal.memberId, inboxId: record.id }, 'dropped an event of a portal that was refused or uninstalled')
        attempt.skipped = 'forgotten'
        return
      }
      if (admitted.portal) attempt.portal = { row: admitted.portal, bitrix: app.portal(admitted.portal.memberId) }
    }
    await next()
  }
