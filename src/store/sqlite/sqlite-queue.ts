import { portalOfChat } from '../../event/event-keys.ts'
import type { Database, Statement } from 'better-sqlite3'
import type { Claim, ClaimedRecord, Queue, StoredRecord } from '../store.ts'
import type { GroupCommit } from './group-commit.ts'
import { isNewer } from '../format.ts'
import { toRecord, type Row } from '../rows.ts'

/**
 * Records kept in the lines beyond what a claim needs now (about 5 MB of wire): a worker keeping
 * pace takes what was just stored without reading it back; one far behind reads it back.
 */
const CACHED_RECORDS = 1024

/** Where a pending record stands in line: enough to schedule it without reading it. */
export interface LineRef {
  id: number
  chatKey: string
  /** When it is due (epoch ms): now for a new record, later for one waiting to be retried. */
  nextAt: number
  /** When it was stored (epoch ms), and the attempts made: `/health`'s figures come from the lines. */
  receivedAt: number
  attempts: number
  /**
   * The format it was stored in: one newer than this version's is never claimed here, and holds
   * its chat while it is the head (what comes after it in the chat waits: order is kept).
   */
  format: number
  /** The record itself when this process just stored it: no need to read it back. */
  record?: StoredRecord
}

/** The `lost` of every SQLite claim: one process holds the inbox, so a claim is never taken over. */
const NEVER_LOST = new AbortController().signal

const NONE: ReadonlySet<string> = new Set()

/**
 * The SQLite store's queue. The line of each chat is kept in memory (ids and due times, read at
 * open and told of every append), so a claim costs nothing however deep the inbox is. Another
 * process (`dlq replay`) may change the database: an idle queue looks every `pollIntervalMs`.
 */
export class SqliteQueue implements Queue {
  readonly #db: Database
  readonly #writer: GroupCommit
  readonly #dedupWindowMs: number
  readonly #pollIntervalMs: number
  readonly #sql: Record<'pending' | 'load' | 'seen' | 'complete' | 'remember' | 'retry' | 'bury', Statement>
  #lines = new Map<string, LineRef[]>()
  /** How many refs in the lines hold their record. */
  #cached = 0
  /**
   * Claimed records, their chats and their claims' tokens: a held chat hands out nothing else. A
   * claim lasts until its outcome is written or it is released: this process is its only holder,
   * so it never lapses (its `lost` never fires); the token fences a write made after a release.
   */
  readonly #held = new Map<number, { chatKey: string; token: number }>()
  #tokens = 0
  readonly #heldChats = new Set<string>()
  readonly #listeners = new Set<() => void>()
  #timer: NodeJS.Timeout | undefined
  #dataVersion = 0

  constructor(db: Database, writer: GroupCommit, options: { dedupWindowMs: number; pollIntervalMs: number }) {
    this.#db = db
    this.#writer = writer
    this.#dedupWindowMs = options.dedupWindowMs
    this.#pollIntervalMs = options.pollIntervalMs
    this.#sql = {
      pending: db.prepare(
        "SELECT id, chat_key AS chatKey, next_at AS nextAt, received_at AS receivedAt, attempts, format FROM inbox WHERE status = 'pending' ORDER BY id",
      ),
      load: db.prepare("SELECT * FROM inbox WHERE id = ? AND status = 'pending'"),
      seen: db.prepare('SELECT 1 FROM seen WHERE key = ? AND expires_at > ?').pluck(),
      complete: db.prepare("DELETE FROM inbox WHERE id = ? AND status = 'pending'"),
      remember: db.prepare('INSERT INTO seen (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at'),
      retry: db.prepare("UPDATE inbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ? AND status = 'pending'"),
      bury: db.prepare("UPDATE inbox SET status = 'dead', attempts = ?, last_error = ? WHERE id = ?"),
    }
    this.#reload()
  }

  /** Puts records in line: just stored, or revived from the dead letter (they rejoin in their place). */
  enqueue(refs: LineRef[]): void {
    for (const ref of refs) {
      const line = this.#lines.get(ref.chatKey)
      if (ref.record) this.#cached++
      if (!line) this.#lines.set(ref.chatKey, [ref])
      else if ((line.at(-1) as LineRef).id < ref.id) line.push(this.#cached <= CACHED_RECORDS ? ref : this.#forget(ref))
      else line.splice(line.findIndex((other) => other.id > ref.id), 0, ref)
    }
    if (refs.length > 0) this.#notify()
  }

  async claim(limit: number, skip: ReadonlySet<string> = NONE): Promise<ClaimedRecord[]> {
    const now = Date.now()
    const heads: LineRef[] = []
    for (const line of this.#lines.values()) {
      const head = line[0] as LineRef
      if (head.nextAt <= now && this.#claimable(head) && !skip.has(portalOfChat(head.chatKey))) heads.push(head)
    }
    heads.sort((a, b) => a.id - b.id)
    const claimed: ClaimedRecord[] = []
    try {
      for (const head of heads) {
        if (claimed.length >= limit) break
        const record = head.record ?? this.#load(head.id)
        if (!record) {
          this.#dequeue(head) // handled or dropped by another process
          continue
        }
        const token = ++this.#tokens
        this.#held.set(head.id, { chatKey: head.chatKey, token })
        this.#heldChats.add(head.chatKey)
        claimed.push({ ...record, token, lost: NEVER_LOST })
      }
    } catch (error) {
      // A record that cannot be read now: the claim takes nothing (what it held so far goes back,
      // or its chats would wait forever) and the queue looks again after the poll interval.
      for (const record of claimed) this.#unhold(record.id)
      this.#arm(this.#pollIntervalMs)
      throw error
    }
    this.#arm()
    return claimed
  }

  async seen(key: string): Promise<boolean> {
    return this.#sql.seen.get(key, Date.now()) !== undefined
  }

  async complete(claim: Claim, key: string | null): Promise<boolean> {
    if (!this.#holds(claim)) return false
    const { id } = claim
    const expiresAt = Date.now() + this.#dedupWindowMs
    await this.#writer.write(() => {
      this.#sql.complete.run(id)
      if (key !== null) this.#sql.remember.run(key, expiresAt)
    })
    this.#finish(id)
    return true
  }

  async retry(claim: Claim, attempts: number, nextAt: number, error: string): Promise<boolean> {
    if (!this.#holds(claim)) return false
    const { id } = claim
    await this.#writer.write(() => this.#sql.retry.run(attempts, nextAt, error, id))
    const line = this.#lines.get(this.#chatOf(id)) as LineRef[]
    // The next attempt reads the record back, with its attempt count. (Usually the head, but a
    // revived dead letter may have rejoined ahead of it while it ran.)
    const ref = line.find((candidate) => candidate.id === id) as LineRef
    Object.assign(this.#forget(ref), { nextAt, attempts })
    this.#giveBack(id)
    return true
  }

  async bury(claim: Claim, attempts: number, error: string): Promise<boolean> {
    if (!this.#holds(claim)) return false
    await this.#writer.write(() => this.#sql.bury.run(attempts, error, claim.id))
    this.#finish(claim.id)
    return true
  }

  // Nothing to write: a claim is held in memory only.
  async release(claim: Claim): Promise<boolean> {
    if (!this.#holds(claim)) return false
    this.#giveBack(claim.id)
    return true
  }

  onAvailable(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * What is pending, from the lines in memory: `/health` must not scan a deep inbox. `newer`:
   * records of a newer format, counted in `depth` too (they wait, as the rest of their chats).
   */
  stats(): { depth: number; oldestReceivedAt: number | null; retrying: number; newer: number } {
    let depth = 0
    let oldest: number | null = null
    let retrying = 0
    let newer = 0
    for (const line of this.#lines.values()) {
      depth += line.length
      const head = line[0] as LineRef
      if (oldest === null || head.receivedAt < oldest) oldest = head.receivedAt
      for (const ref of line) {
        if (ref.attempts > 0) retrying++
        if (isNewer(ref.format)) newer++
      }
    }
    return { depth, oldestReceivedAt: oldest, retrying, newer }
  }

  close(): void {
    clearTimeout(this.#timer)
  }

  // Whether `claim` is the one this record is held by (not one given back and taken again since).
  #holds(claim: Claim): boolean {
    return this.#held.get(claim.id)?.token === claim.token
  }

  #chatOf(id: number): string {
    return (this.#held.get(id) as { chatKey: string }).chatKey
  }

  #finish(id: number): void {
    this.#dequeue({ id, chatKey: this.#chatOf(id) })
    this.#giveBack(id)
  }

  #giveBack(id: number): void {
    this.#unhold(id)
    this.#notify()
  }

  // A chat nobody holds, whose head this version can read.
  #claimable(head: LineRef): boolean {
    return !this.#heldChats.has(head.chatKey) && !isNewer(head.format)
  }

  #unhold(id: number): void {
    this.#heldChats.delete(this.#chatOf(id))
    this.#held.delete(id)
  }

  #load(id: number): StoredRecord | null {
    const row = this.#sql.load.get(id) as Row | undefined
    return row ? toRecord(row) : null
  }

  #dequeue({ id, chatKey }: { id: number; chatKey: string }): void {
    const line = this.#lines.get(chatKey) as LineRef[]
    const [ref] = line.splice(line.findIndex((candidate) => candidate.id === id), 1)
    this.#forget(ref as LineRef)
    if (line.length === 0) this.#lines.delete(chatKey)
  }

  // Drops the record a ref holds (it is read back when needed): the next attempt reads its attempt count.
  #forget(ref: LineRef): LineRef {
    if (ref.record) this.#cached--
    ref.record = undefined
    return ref
  }

  #reload(): void {
    this.#dataVersion = this.#db.pragma('data_version', { simple: true }) as number
    this.#lines = new Map()
    this.#cached = 0
    this.enqueue(this.#sql.pending.all() as LineRef[])
  }

  #notify(): void {
    for (const listener of this.#listeners) listener()
  }

  // When the next record of an idle chat is due, at most the poll interval from now.
  #nextWake(): number {
    const now = Date.now()
    let delay = this.#pollIntervalMs
    for (const line of this.#lines.values()) {
      const head = line[0] as LineRef
      if (this.#claimable(head)) delay = Math.min(delay, Math.max(0, head.nextAt - now))
    }
    return delay
  }

  // Wakes the listeners after `delay`: when the next retry is due, or after the poll interval to
  // notice what another process changed.
  #arm(delay = this.#nextWake()): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      try {
        if (this.#db.pragma('data_version', { simple: true }) !== this.#dataVersion) this.#reload()
        /* c8 ignore next 3: a database that cannot be read here fails the next claim too, which the worker reports */
      } catch {
        // told below: the claim that follows says why
      }
      this.#notify()
    }, delay)
    this.#timer.unref()
  }
}
