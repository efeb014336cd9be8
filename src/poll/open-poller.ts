import type { Logger } from 'pino'
import { RestClient } from '../bitrix/rest-client.ts'
import type { RestTarget } from '../bitrix/rest-target.ts'
import type { Config } from '../config/load-config.ts'
import { InboxUnavailableError } from '../inbox/inbox-error.ts'
import type { OpenPipeline } from '../pipeline/open-pipeline.ts'
import { Poller } from './poller.ts'

// After a failed call: a second, doubling up to a minute (the docs: back off exponentially).
const RETRY = { baseMs: 1000, maxMs: 60000 }

/**
 * The poller `B24_POLL` asks for (`null` when unset), feeding `pipeline` and keeping its offset in
 * the pipeline's inbox; not started.
 */
export function openPoller(config: Pick<Config, 'poll' | 'rest'>, pipeline: OpenPipeline, logger: Logger, retry = RETRY): Poller | null {
  const { poll, rest } = config
  if (!poll.mode) return null
  const log = logger.child({ door: 'poll' })
  const poller: Poller = new Poller({
    ...poll,
    mode: poll.mode,
    // loadConfig refuses B24_POLL without B24_REST_URL.
    client: new RestClient(rest.webhook as RestTarget, { timeoutMs: rest.timeoutMs, logger: log }),
    botId: rest.botId,
    botToken: rest.botToken,
    retryBaseMs: retry.baseMs,
    retryMaxMs: retry.maxMs,
    pipeline,
    offsets: () => {
      const inbox = pipeline.inbox()
      if (!inbox) throw new InboxUnavailableError(pipeline.unavailable() as string) // no inbox: it says why
      return {
        read: () => {
          const stored = inbox.getMeta(poller.queue)
          return stored === null ? null : Number(stored)
        },
        write: (offset) => inbox.setMeta(poller.queue, String(offset)),
      }
    },
    logger: log,
  })
  return poller
}
