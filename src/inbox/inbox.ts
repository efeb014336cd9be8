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
  resolve: (stored: boolean) => void
  reject: (error: Error) => void
}

interface Row {
  id: number
  key: string
  chat_key: string
  type: string
  received_at: number
  attempts: number
  event_json: string | null
  delivery_json: string
  raw_json: string | null
  last_error: string | null
  credentials: string
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
}

const serializeCredentials = (credentials: Credentials) => JSON.stringify({ auth: credentials.auth, bot: credentials.bot })

function readCredentials(json: string): Credentials {
  const { auth, bot } = JSON.parse(json) as { auth?: AuthBlock; bot?: AuthBlock }
  return new Credentials(auth, bot)
}

/**
 * The durable queue between the doors and the handlers (SQLite, WAL). Adds are group-committed:
 * every add of one event-loop turn goes into one transaction, and each caller hears back once it
 * is committed. A unique key per event, kept for the dedup window, stores a double delivery once.
 * Credentials live in their own table and go with their event.
 */
export class Inbox {
  readonly #db: Database
  readonly #dedupWindowMs: number
  #queue: PendingAdd[] = []
  #scheduled = false
  #writeError: Error | null = null
  readonly #listeners = new Set<() => void>()
  readonly #sql: Record<string, Statement>

  constructor(db: Database, options: { dedupWindowMs: number }) {
    this.#db = db
    this.#dedupWindowMs = options.dedupWindowMs
    const prepare = (sql: string) => db.prepare(sql)
    this.#sql = {
      dedup: prepare('INSERT INTO dedup (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING'),
      insert: prepare(
        `INSERT INTO events (status, key, chat_key, type, received_at, next_at, event_json, delivery_json, raw_json, last_error)
         VALUES (@status, @dedup, @chat_key, @type, @received_at, @received_at, @event_json, @delivery_json, @raw_json, @last_error)`,
      ),
      insertCredentials: prepare('INSERT INTO credentials (event_id, json) VALUES (?, ?)'),
      claim: prepare(
        `SELECT e.id, e.key, e.chat_key, e.type, e.received_at, e.attempts, e.event_json, e.delivery_json, e.raw_json, e.last_error, c.json AS credentials
         FROM events e JOIN credentials c ON c.event_id = e.id
         WHERE e.status = 'pending' AND e.next_at <= ?
           AND e.id = (SELECT MIN(id) FROM events h WHERE h.status = 'pending' AND h.chat_key = e.chat_key)
         ORDER BY e.id LIMIT ?`,
      ),
      complete: prepare('DELETE FROM events WHERE id = ?'),
      retry: prepare("UPDATE events SET attempts = ?, next_at = ?, last_error = ? WHERE id = ? AND status = 'pending'"),
      bury: prepare("UPDATE events SET status = 'dead', attempts = ?, last_error = ? WHERE id = ?"),
      nextDue: prepare("SELECT MIN(next_at) AS at FROM events WHERE status = 'pending'"),
      stats: prepare(
        `SELECT
           (SELECT COUNT(*) FROM events WHERE status = 'pending') AS depth,
           (SELECT MIN(received_at) FROM events WHERE status = 'pending') AS oldest,
           (SELECT COUNT(*) FROM events WHERE status = 'pending' AND attempts > 0) AS retrying,
           (SELECT COUNT(*) FROM events WHERE status = 'dead') AS dead`,
      ),
      listDead: prepare("SELECT e.*, NULL AS credentials FROM events e WHERE status = 'dead' ORDER BY id"),
      getDead: prepare(`SELECT e.*, c.json AS credentials FROM events e JOIN credentials c ON c.event_id = e.id WHERE e.id = ? AND e.status = 'dead'`),
      revive: prepare("UPDATE events SET status = 'pending', attempts = 0, next_at = ?, event_json = ?, chat_key = COALESCE(?, chat_key), raw_json = NULL, last_error = NULL WHERE id = ? AND status = 'dead'"),
      drop: prepare("DELETE FROM events WHERE id = ? AND status = 'dead'"),
      purge: prepare('DELETE FROM dedup WHERE expires_at <= ?'),
      getMeta: prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    }
  }

  /** Whether the last write went through: `/ready` reports it. */
  get writable(): boolean {
    return this.#writeError === null
  }

  /** Calls `listener` after every commit that stored something. */
  onAdded(listener: () => void): () => void {
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
    return this.#enqueue(row, serializeCredentials(delivery.credentials))
  }

  /** Keeps an authenticated event that failed its schema as a dead letter, for a replay after a fix. */
  addRejected(rejected: NewRejected): Promise<boolean> {
    const row = {
      status: 'dead',
      chat_key: `rejected:${rejected.dedupKey}`,
      type: rejected.type,
      event_json: null,
      delivery_json: JSON.stringify({ source: 'webhook', portal: rejected.portal, handlerId: null }),
      raw_json: JSON.stringify(rejected.payload),
      last_error: rejected.error,
      dedup: rejected.dedupKey,
    }
    return this.#enqueue(row, serializeCredentials(rejected.credentials))
  }

  #enqueue(row: Record<string, unknown>, credentials: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, credentials, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => this.#flush())
      }
    })
  }

  // One transaction for everything added during the last turn of the event loop.
  #flush(): void {
    const batch = this.#queue
    this.#queue = []
    this.#scheduled = false
    const now = Date.now()
    let stored: boolean[]
    try {
      stored = this.#db.transaction(() =>
        batch.map(({ row, credentials }) => {
          if (this.#sql.dedup!.run(row.dedup, now + this.#dedupWindowMs).changes === 0) return false
          const id = this.#sql.insert!.run({ ...row, received_at: now }).lastInsertRowid
          this.#sql.insertCredentials!.run(id, credentials)
          return true
        }),
      )()
      this.#writeError = null
    } catch (error) {
      this.#writeError = error as Error
      const failure = new InboxUnavailableError('the inbox cannot store events now', { cause: error })
      for (const { reject } of batch) reject(failure)
      return
    }
    batch.forEach(({ resolve }, i) => resolve(stored[i] as boolean))
    if (stored.includes(true)) for (const listener of this.#listeners) listener()
  }

  /**
   * The next events to handle: due, pending, and each the oldest pending event of its chat, so
   * a chat's events run in arrival order (a retrying event holds back the later ones).
   */
  claim(now: number, limit: number, busyChats: ReadonlySet<string>): StoredEvent[] {
    const rows = this.#sql.claim!.all(now, limit + busyChats.size) as Row[]
    return rows
      .filter((row) => !busyChats.has(row.chat_key))
      .slice(0, limit)
      .map((row) => ({ id: row.id, key: row.key, chatKey: row.chat_key, attempts: row.attempts, inbound: toInbound(row) }))
  }

  /** Handled: the event and its credentials go; its dedup key stays for the window. */
  complete(id: number): void {
    this.#sql.complete!.run(id)
  }

  /** Failed, to be tried again at `nextAt`. */
  retry(id: number, attempts: number, nextAt: number, error: string): void {
    this.#sql.retry!.run(attempts, nextAt, error, id)
  }

  /** Failed for the last time: to the dead letter. */
  bury(id: number, attempts: number, error: string): void {
    this.#sql.bury!.run(attempts, error, id)
  }

  /** When the earliest pending event is due, or `null` when none is pending. */
  nextDueAt(): number | null {
    return (this.#sql.nextDue!.get() as { at: number | null }).at
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
  deadLetterSource(id: number): { payload: Record<string, unknown> | null; event: InboundEvent['event'] | null; credentials: Credentials } | null {
    const row = this.#sql.getDead!.get(id) as Row | undefined
    if (!row) return null
    return { payload: row.raw_json ? JSON.parse(row.raw_json) : null, event: row.event_json ? JSON.parse(row.event_json) : null, credentials: readCredentials(row.credentials as string) }
  }

  /**
   * Puts a dead letter back in line, with its event (decoded again when it had failed its schema,
   * then with the chat it turned out to be about).
   */
  revive(id: number, event: InboundEvent['event'], chatKey: string | null): void {
    this.#sql.revive!.run(Date.now(), JSON.stringify(event), chatKey, id)
    for (const listener of this.#listeners) listener()
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

  close(): void {
    this.#db.close()
  }
}

function toInbound(row: Row): InboundEvent {
  const delivery = JSON.parse(row.delivery_json) as Omit<Delivery, 'credentials'>
  return { event: JSON.parse(row.event_json as string) as InboundEvent['event'], delivery: { ...delivery, credentials: readCredentials(row.credentials as string) } }
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
