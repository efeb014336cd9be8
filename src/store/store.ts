import type { StoreStats } from '../../schemas/health.ts'
import type { Portal } from '../../schemas/portal.ts'

/**
 * How far a stored event survives in the embedded store: `process` (default) survives a crash or
 * kill of the process (WAL, `synchronous=NORMAL`); `power` also survives a power loss
 * (`synchronous=FULL`, an fsync per group commit).
 */
export type Durability = 'process' | 'power'

/** Which door an event came through: a replay decodes it again the same way. */
export type Source = 'webhook' | 'poll'

/**
 * What a record's `body` holds, for whoever reads it back; the store never looks inside.
 * `event`: the normalized event as handlers see it (JSON). `payload`: what came through the
 * door, credentials cut out (JSON), for an event that has to be decoded again. `form`: a form
 * body as it came, credentials cut out, that could not be decoded within the limits.
 */
export type BodyKind = 'event' | 'payload' | 'form'

/** An event as the doors hand it to the store. */
export interface NewRecord {
  /** The dedup key: a second record with the same key within the dedup window is not stored. */
  key: string
  /** Records of one chat are handed out one at a time, in the order they were appended. */
  chatKey: string
  type: string
  source: Source
  portal: Portal
  /** A webhook's `event_handler_id`. */
  handlerId: number | null
  bodyKind: BodyKind
  body: string
  /** The credentials that came with it, serialized; deleted with the record. */
  credentials: string
  /** Set for a record that goes straight to the dead letter: why (it failed to decode). */
  error?: string
}

/** A stored record, as the store hands it back. */
export interface StoredRecord extends Omit<NewRecord, 'error'> {
  id: number
  /** Attempts already made (0 on the first try). */
  attempts: number
  /** Epoch ms it was stored. */
  receivedAt: number
}

/**
 * The worker's side: records handed out one chat at a time. A claimed record is held (no other
 * claim gets its chat) until its outcome is written or it is released.
 */
export interface Queue {
  /** Up to `limit` due records, each the oldest of a chat nobody holds, oldest first. */
  claim(limit: number): Promise<StoredRecord[]>
  /** Handled: the record and its credentials go; its key stays for the dedup window. */
  complete(id: number): Promise<void>
  /** Failed; to be claimable again at `nextAt` (epoch ms). */
  retry(id: number, attempts: number, nextAt: number, error: string): Promise<void>
  /** Failed for the last time: to the dead letter. */
  bury(id: number, attempts: number, error: string): Promise<void>
  /** Gives a claimed record back as it is (its outcome could not be written, or the worker stops). */
  release(id: number): void
  /** Calls `listener` whenever a claim may find something new (a record stored, a retry due); returns the unsubscribe. */
  onAvailable(listener: () => void): () => void
}

/** A dead letter as `dlq list`/`dlq show` print it: never its credentials. */
export interface DeadLetter {
  id: number
  type: string
  receivedAt: string
  attempts: number
  error: string
  source: Source
  portal: Portal
  bodyKind: BodyKind
  /** The body: parsed JSON, or a form's text. */
  body: unknown
}

/** The dead letter: what failed to decode or kept failing its handlers. */
export interface DeadLetters {
  list(): Promise<DeadLetter[]>
  get(id: number): Promise<DeadLetter | null>
  /** A dead letter whole, credentials included, for a replay: never printed. */
  record(id: number): Promise<StoredRecord | null>
  /** Back in line, attempts reset, with a new body and chat (a replay may have decoded it again). */
  revive(id: number, update: Pick<NewRecord, 'chatKey' | 'bodyKind' | 'body'>): Promise<void>
  /** Deletes a dead letter for good; `false` when there is none with that id. */
  drop(id: number): Promise<boolean>
}

/** Small named values that must survive a restart (the poller's offsets), and leases on names. */
export interface Meta {
  get(key: string): Promise<string | null>
  set(key: string, value: string): Promise<void>
  /**
   * Takes or renews the lease on `name` for `owner` until `ttlMs` from now; `false` while another
   * owner holds an unexpired one. One poller per queue, whatever process or replica it runs in.
   */
  lease(name: string, owner: string, ttlMs: number): Promise<boolean>
  /** Gives a lease up, if `owner` holds it. */
  unlease(name: string, owner: string): Promise<void>
}

/**
 * Where events wait between the doors and the handlers. `append` resolves only once the record
 * is durable: a door acknowledges nothing before. Implementations: SQLite (./sqlite/), and any
 * object of this shape passed as the receiver's `store` option.
 */
export interface Store {
  /**
   * Stores a record; resolves `true` once committed, `false` for a duplicate key (stored before).
   * @throws {StoreUnavailableError} when it cannot be stored: the door must not acknowledge.
   */
  append(record: NewRecord): Promise<boolean>
  readonly queue: Queue
  readonly deadLetters: DeadLetters
  readonly meta: Meta
  stats(): Promise<StoreStats>
  /** Why records cannot be appended now, or `null` when they can. */
  unavailable(): string | null
  close(): Promise<void>
}
