import type { RestSettings } from '../bitrix/bitrix.ts'
import { RestClient } from '../bitrix/rest-client.ts'
import type { RestTarget } from '../bitrix/rest-target.ts'
import type { Ingest } from '../door/ingest.ts'
import type { StoreContext } from '../store/store-factory.ts'
import type { Store } from '../store/store.ts'
import { Poller, type PollerOptions } from './poller.ts'

/** What to poll: `im` (the webhook user's `ONIMV2*`) or `imbot` (the bot's `ONIMBOTV2*`), and how often. */
export type PollSettings = Pick<PollerOptions, 'mode' | 'withUserEvents' | 'limit' | 'busyMs' | 'idleMs'>

// After a failed call: a second, doubling up to a minute (the docs: back off exponentially).
const RETRY = { retryBaseMs: 1000, retryMaxMs: 60000 }

/** A poller of `poll` through the inbound webhook of `rest`, feeding `ingest`, its offset in `store` under the lease of `replica`; not started. */
export function openPoller(poll: PollSettings, rest: RestSettings, ingest: Ingest, store: Store, { logger, replica }: StoreContext, retry = RETRY): Poller {
  const log = logger.child({ door: 'poll' })
  return new Poller({
    ...poll,
    ...retry,
    // createReceiver refuses polling without a REST URL.
    // Paced with the handlers' calls: they share the portal's bucket.
    client: new RestClient(rest.webhook as RestTarget, { timeoutMs: rest.timeoutMs, logger: log, pacer: rest.pacer }),
    botId: rest.botId,
    botToken: rest.botToken,
    ingest,
    meta: () => store.meta,
    leases: () => store.leases,
    owner: replica,
    logger: log,
  })
}
