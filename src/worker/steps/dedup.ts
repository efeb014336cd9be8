import { dedupKey } from '../../event/event-keys.ts'
import type { DecodedEvent } from '../../event/decoded-event.ts'
import type { Attempt } from './attempt.ts'
import type { Step } from './compose.ts'

/**
 * Keys the decoded event (the same key on every attempt, through either door) and stops the
 * chain when an event of that key was handled within the dedup window: a double delivery, done
 * without running anything again.
 * @param seen the store's dedup window (`queue.seen`)
 */
export const dedup =
  (seen: (key: string) => Promise<boolean>): Step<Attempt> =>
  async (attempt, next) => {
    const key = dedupKey(attempt.decoded as DecodedEvent)
    attempt.key = key
    if (await seen(key)) {
      attempt.skipped = 'duplicate'
      return
    }
    await next()
  }
