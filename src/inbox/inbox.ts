import type { Database, Statement } from 'better-sqlite3'
import { Credentials, type AuthBlock } from '../event/credentials.ts'
import type { Delivery, InboundEvent, Portal } from '../event/inbound-event.ts'
import { InboxUnavailableError } from './inbox-error.ts'

/** An event taken from the inbox for handling. */
export interface StoredEvent {
  id: number
  /** The event's dedup key: the same across retries and restarts. */
  key: string
  chatKey: string
  inbound: InboundEvent
  /** Attempts already made (0 on the first try). */
  attempts: number
}

/** Where a pending event stands in line: enough to schedule it without reading it. */
export interface PendingRef {
  id: number
  chatKey: string
  /** When it is due (ms): now for a new event, later for one waiting to be retried. */
  nextAt: number
  /** The event itself when this process just stored it: no need to read it back. */
  stored?: StoredEvent
}

/** A dead letter as `dlq list`/`dlq show` print it: never its credentials. */
export interface DeadLetter {
  id: number
  type: string
  receivedAt: string
  attempts: number
  error: string
  /** The normalized event, or for one that never validated `null` (see `payload`). */
  event: InboundEvent['event'] | null
  /** The payload of an event that failed its schema, credentials removed. */
  payload: Record<string, unknown> | null
  portal: Portal
}

/** What a replay needs of a dead letter: never printed (it holds credentials). */
export interface DeadLetterSource {
  /** The payload of an event that failed its schema, else `null`. */
  payload: Record<string, unknown> | null
  /** The normalized event of one that failed its handlers, else `null`. */
  event: InboundEvent['event'] | null
  credentials: Credentials
  source: Delivery['source']
  portal: Portal
}

/** Figures for `/health`. */
export interface InboxStats {
  depth: number
  oldestPendingAgeMs: number | null
  retrying: number
  deadLetters: number
}

interface PendingAdd {
  row: Record<string, unknown>
  credentials: string
  inbound?: InboundEvent
  resolve: (stored: boolean) => void
  reject: (error: Error) => void
}

interface Row {
  id: number
  key: string
  credentials_json: string
  chat_key: string
  type: string
  received_at: number
  attempts: number
  event_json: string | null
  delivery_json: string
  raw_json: string | null
  last_error: string | null
}

/** What a new event is stored with. */
export interface NewEvent {
  inbound: InboundEvent
  /** `JSON.stringify(inbound.event)`, when the caller has it already. */
  eventJson?: string
  dedupKey: string
  chatKey: string
}

/** What an event that failed its schema is stored with. */
export interface NewRejected {
  type: string
  payload: Record<string, unknown>
  portal: Portal
  credentials: Credentials
  error: string
  dedupKey: string
  /** The door it came through (a webhook when not said): a replay decodes it the same way. */
  source?: Delivery['source']
}

const GROUP_COMMIT_ROWS = 128

const serializeCredentials = (credentials: Credentials) => JSON.stringify({ auth: credentials.auth, bot: credentials.bot })

function readCredentials(json: string): Credentials {
  const { auth, bot } = JSON.parse(json) as { auth?: AuthBlock; bot?: AuthBlock }
  return new Credentials(auth, bot)
}

/**
 * The durable queue between the doors and the handlers (SQLite, WAL). Adds are group-committed:
 * what arrives during one turn of the event loop goes into one transaction, and each caller hears
 * back once it is committed. A unique key per event, kept for the dedup window after it is
 * handled, stores a double delivery once. Credentials live apart from the event (their own
 * column) and go with it.
 */
export class Inbox {
  readonly #db: Database
  readonly #dedupWindowMs: number
  #queue: PendingAdd[] = []
  #scheduled = false
  #immediate: NodeJS.Immediate | undefined
  #completed: number[] = []
  #writeError: Error | null = null
  #dataVersion: number | null = null
  readonly #listeners = new Set<(added: PendingRef[]) => void>()
  readonly #sql: Record<string, Statement>

  constructor(db: Database, options: { dedupWindowMs: number }) {
    this.#db = db
    this.#dedupWindowMs = options.dedupWindowMs
    const prepare = (sql: string) => db.prepare(sql)
    this.#sql = {
      insert: prepare(
        `INSERT INTO events (status, key, chat_key, type, received_at, next_at, event_json, delivery_json, raw_json, credentials_json, last_error)
         VALUES (@status, @dedup, @chat_key, @type, @received_at, @received_at, @event_json, @delivery_json, @raw_json, @credentials, @last_error)
         ON CONFLICT (key) DO NOTHING`,
      ),
      load: prepare("SELECT id, key, chat_key, attempts, event_json, delivery_json, credentials_json FROM events WHERE id = ? AND status = 'pending'"),
      pending: prepare("SELECT id, chat_key AS chatKey, next_at AS nextAt FROM events WHERE status = 'pending' ORDER BY id"),
      chatOf: prepare('SELECT chat_key AS chatKey FROM events WHERE id = ?'),
      complete: prepare(
        `UPDATE events SET status = 'done', expires_at = ?, chat_key = NULL, event_json = NULL, delivery_json = NULL, raw_json = NULL,
           credentials_json = NULL, last_error = NULL WHERE id = ? AND status = 'pending'`,
      ),
      retry: prepare("UPDATE events SET attempts = ?, next_at = ?, last_error = ? WHERE id = ? AND status = 'pending'"),
      bury: prepare("UPDATE events SET status = 'dead', attempts = ?, last_error = ? WHERE id = ?"),
      stats: prepare(
        `SELECT
           (SELECT COUNT(*) FROM events WHERE status = 'pending') AS depth,
           (SELECT MIN(received_at) FROM events WHERE status = 'pending') AS oldest,
           (SELECT COUNT(*) FROM events WHERE status = 'pending' AND attempts > 0) AS retrying,
           (SELECT COUNT(*) FROM events WHERE status = 'dead') AS dead`,
      ),
      listDead: prepare("SELECT * FROM events WHERE status = 'dead' ORDER BY id"),
      getDead: prepare("SELECT * FROM events WHERE id = ? AND status = 'dead'"),
      revive: prepare("UPDATE events SET status = 'pending', attempts = 0, next_at = ?, event_json = ?, chat_key = COALESCE(?, chat_key), raw_json = NULL, last_error = NULL WHERE id = ? AND status = 'dead'"),
      drop: prepare("DELETE FROM events WHERE id = ? AND status = 'dead'"),
      purge: prepare("DELETE FROM events WHERE status = 'done' AND expires_at <= ?"),
      getMeta: prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    }
  }

  /** Whether the last write went through: `/ready` reports it. */
  get writable(): boolean {
    return this.#writeError === null
  }

  /** Calls `listener` with what every commit put in line (new events, revived dead letters). */
  onAdded(listener: (added: PendingRef[]) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Stores an event; resolves `true` once committed, `false` for a duplicate within the dedup
   * window (stored before).
   * @throws {InboxUnavailableError} when the commit fails: the caller must not acknowledge.
   */
  add({ inbound, eventJson, dedupKey, chatKey }: NewEvent): Promise<boolean> {
    const { event, delivery } = inbound
    const row = {
      status: 'pending',
      chat_key: chatKey,
      type: event.type,
      event_json: eventJson ?? JSON.stringify(event),
      delivery_json: JSON.stringify({ source: delivery.source, portal: delivery.portal, handlerId: delivery.handlerId }),
      raw_json: null,
      last_error: null,
      dedup: dedupKey,
    }
    return this.#enqueue(row, serializeCredentials(delivery.credentials), inbound)
  }

  /** Keeps an authenticated event that failed its schema as a dead letter, for a replay after a fix. */
  addRejected(rejected: NewRejected): Promise<boolean> {
    const row = {
      status: 'dead',
      chat_key: `rejected:${rejected.dedupKey}`,
      type: rejected.type,
      event_json: null,
      delivery_json: JSON.stringify({ source: rejected.source ?? 'webhook', portal: rejected.portal, handlerId: null }),
      raw_json: JSON.stringify(rejected.payload),
      last_error: rejected.error,
      dedup: rejected.dedupKey,
    }
    return this.#enqueue(row, serializeCredentials(rejected.credentials))
  }

  #enqueue(row: Record<string, unknown>, credentials: string, inbound?: InboundEvent): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, credentials, inbound, resolve, reject })
      this.#scheduleFlush()
    })
  }

  // A commit costs far more than a row: everything that arrives while the event loop turns
  // (every request parsed meanwhile) goes into one, so throughput does not collapse to one
  // commit per request, and no request waits on a timer.
  #scheduleFlush(): void {
    if (this.#queue.length >= GROUP_COMMIT_ROWS) return void this.#flushNow()
    if (this.#scheduled) return
    this.#scheduled = true
    this.#immediate = setImmediate(() => this.#flush())
  }

  #flushNow(): void {
    clearImmediate(this.#immediate)
    this.#flush()
  }

  // One transaction for everything added and handled during the last turn of the event loop.
  #flush(): void {
    const batch = this.#queue
    const completed = this.#completed
    this.#queue = []
    this.#completed = []
    this.#scheduled = false
    const now = Date.now()
    let stored: Array<number | null>
    try {
      stored = this.#db.transaction(() => {
        for (const id of completed) this.#sql.complete!.run(now + this.#dedupWindowMs, id)
        return batch.map(({ row, credentials }) => {
          const result = this.#sql.insert!.run({ ...row, credentials, received_at: now })
          return result.changes === 0 ? null : Number(result.lastInsertRowid)
        })
      })()
      this.#writeError = null
    } catch (error) {
      this.#writeError = error as Error
      const failure = new InboxUnavailableError('the inbox cannot store events now', { cause: error })
      for (const { reject } of batch) reject(failure)
      return
    }
    batch.forEach(({ resolve }, i) => resolve(stored[i] !== null))
    const added = batch.flatMap(({ row, inbound }, i) => {
      const id = stored[i] as number | null
      if (id === null || !inbound) return []
      const chatKey = row.chat_key as string
      return [{ id, chatKey, nextAt: now, stored: { id, key: row.dedup as string, chatKey, attempts: 0, inbound } }]
    })
    if (added.length > 0) this.#notify(added)
  }

  #notify(added: PendingRef[]): void {
    for (const listener of this.#listeners) listener(added)
  }

  /** Every pending event, in arrival order: where a worker starts. */
  pending(): PendingRef[] {
    return this.#sql.pending!.all() as PendingRef[]
  }

  /** A pending event, whole; `null` once it is gone (handled, or dropped by another process). */
  load(id: number): StoredEvent | null {
    const row = this.#sql.load!.get(id) as Row | undefined
    return row ? { id: row.id, key: row.key, chatKey: row.chat_key, attempts: row.attempts, inbound: toInbound(row) } : null
  }

  /** Whether another connection (`dlq replay` in another process) changed the database since the last call. */
  changedElsewhere(): boolean {
    const version = this.#db.pragma('data_version', { simple: true }) as number
    const changed = this.#dataVersion !== null && version !== this.#dataVersion
    this.#dataVersion = version
    return changed
  }

  /**
   * Handled: the event and its credentials go, with the next group commit; its dedup key stays
   * for the window. A crash before that commit leaves it pending: handled again, never lost.
   */
  complete(id: number): void {
    this.#completed.push(id)
    this.#scheduleFlush()
  }

  /** Failed, to be tried again at `nextAt`. */
  retry(id: number, attempts: number, nextAt: number, error: string): void {
    this.#sql.retry!.run(attempts, nextAt, error, id)
  }

  /** Failed for the last time: to the dead letter. */
  bury(id: number, attempts: number, error: string): void {
    this.#sql.bury!.run(attempts, error, id)
  }

  stats(now = Date.now()): InboxStats {
    const row = this.#sql.stats!.get() as { depth: number; oldest: number | null; retrying: number; dead: number }
    return { depth: row.depth, oldestPendingAgeMs: row.oldest === null ? null : now - row.oldest, retrying: row.retrying, deadLetters: row.dead }
  }

  /** Forgets dedup keys past their window; returns how many. */
  purgeExpiredKeys(now = Date.now()): number {
    return this.#sql.purge!.run(now).changes
  }

  deadLetters(): DeadLetter[] {
    return (this.#sql.listDead!.all() as Row[]).map(toDeadLetter)
  }

  deadLetter(id: number): DeadLetter | null {
    const row = this.#sql.getDead!.get(id) as Row | undefined
    return row ? toDeadLetter(row) : null
  }

  /** A dead letter's stored payload and credentials, for a replay that decodes it again. */
  deadLetterSource(id: number): DeadLetterSource | null {
    const row = this.#sql.getDead!.get(id) as Row | undefined
    if (!row) return null
    const { source, portal } = JSON.parse(row.delivery_json) as Pick<Delivery, 'source' | 'portal'>
    return {
      payload: row.raw_json ? JSON.parse(row.raw_json) : null,
      event: row.event_json ? JSON.parse(row.event_json) : null,
      credentials: readCredentials(row.credentials_json),
      source,
      portal,
    }
  }

  /**
   * Puts a dead letter back in line, with its event (decoded again when it had failed its schema,
   * then with the chat it turned out to be about).
   */
  revive(id: number, event: InboundEvent['event'], chatKey: string | null): void {
    const now = Date.now()
    this.#sql.revive!.run(now, JSON.stringify(event), chatKey, id)
    this.#notify([{ id, chatKey: (this.#sql.chatOf!.get(id) as { chatKey: string }).chatKey, nextAt: now }])
  }

  /** Deletes a dead letter for good; `false` when there is none with that id. */
  drop(id: number): boolean {
    return this.#sql.drop!.run(id).changes > 0
  }

  getMeta(key: string): string | null {
    return (this.#sql.getMeta!.get(key) as { value: string } | undefined)?.value ?? null
  }

  setMeta(key: string, value: string): void {
    this.#sql.setMeta!.run(key, value)
  }

  /** Commits what is queued now, without waiting for the group commit. */
  commit(): void {
    if (this.#db.open && (this.#queue.length > 0 || this.#completed.length > 0)) this.#flushNow()
  }

  /** Commits what is queued, then closes the database. */
  close(): void {
    this.commit()
    this.#db.close()
  }
}

function toInbound(row: Row): InboundEvent {
  const delivery = JSON.parse(row.delivery_json) as Omit<Delivery, 'credentials'>
  return { event: JSON.parse(row.event_json as string) as InboundEvent['event'], delivery: { ...delivery, credentials: readCredentials(row.credentials_json) } }
}

function toDeadLetter(row: Row): DeadLetter {
  const delivery = JSON.parse(row.delivery_json) as { portal: Portal }
  return {
    id: row.id,
    type: row.type,
    receivedAt: new Date(row.received_at).toISOString(),
    attempts: row.attempts,
    error: row.last_error as string, // a dead letter always says why
    event: row.event_json ? JSON.parse(row.event_json) : null,
    payload: row.raw_json ? JSON.parse(row.raw_json) : null,
    portal: delivery.portal,
  }
}
