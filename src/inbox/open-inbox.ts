import type { Config } from '../config/load-config.ts'
import { Inbox } from './inbox.ts'
import { openDatabase } from './open-database.ts'

/**
 * The inbox under `DATA_DIR` with the configured durability and dedup window.
 * @throws {InboxUnavailableError} when it cannot be opened.
 */
export const openInbox = (config: Pick<Config, 'dataDir' | 'inbox'>): Inbox =>
  new Inbox(openDatabase(config.dataDir, config.inbox.durability), { dedupWindowMs: config.inbox.dedupWindowMs })
