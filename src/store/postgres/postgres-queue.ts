import { portalOfChat } from '../../event/event-keys.ts'
import { ClaimLostError } from '../claim-lost-error.ts'
import type { Claim, ClaimedRecord, Queue } from '../store.ts'
import { STORED_FORMAT } from '../format.ts'
import { toRecord, type Row } from '../rows.ts'
import { Batcher } from './batcher.ts'
import { NOW_MS, prepared, type PostgresDatabase } from './postgres-database.ts'

export interface PostgresQueueOptions {
  /** Who claims: this replica, as its claims name it. */
  owner: string
  dedupWindowMs: number
  /** How long a claim lasts unrenewed: a replica that dies mid-event gives it up after this. */
  claimTimeoutMs: number
  /** How often an idle queue looks for what no notification announced (retries due, claims expired). */
  pollIntervalMs: number
  /**
   * Chats one claim statement takes beyond those the worker asked for: their records wait here,
   * claimed, for the worker's next free slots (another replica cannot have them meanwhile). 8.
   */
  claimAhead?: number
  /** Of one chat, records one claim statement takes at most: its head and those after it, handed out in turn. 8. */
  perChat?: number
  /** How often held claims are renewed: a third of `claimTimeoutMs` by default, so that one renewal lost still leaves two. */
  renewEveryMs?: number
}

/** The rows a statement fences by their claims: ids and tokens as two arrays ($1, $2), this replica's name ($3), locked in id order. */
const MINE = `SELECT i.id FROM b24_inbox i JOIN unnest($1::bigint[], $2::bigint[]) AS c(id, claim) ON i.id = c.id AND i.claim = c.claim
  WHERE i.claimed_by = $3 AND i.status = 'pending' ORDER BY i.id FOR UPDATE OF i`

/** What a claim returns of each row: named (see {@link prepared} for why never `*`). */
const RETURNED = ['id', 'status', 'chat_key', 'type', 'source', 'received_at', 'next_at', 'attempts', 'last_error', 'portal_json', 'body_kind', 'body', 'credentials', 'format', 'claim']
  .map((column) => `b24_inbox.${column}`)
  .join(', ')

// Every statement that writes several claimed rows locks them in id order (MINE, and the claim's
// SKIP LOCKED, which never waits): two of them, on one replica or two, cannot deadlock.
//
// The claim: the heads of the chats nobody holds that are due, oldest first ($3 chats at most),
// and after each head the records that follow it in its chat ($4 per chat), in one statement. The
// chats are walked along the (chat_key, id) index, one probe per chat with something pending. A
// row locked by another statement is skipped, never waited for, and a chat's records are taken
// only as an unbroken run from its head: a head another replica is claiming (locked, or claimed
// once its commit is seen) takes nothing of its chat. No chat of a portal in $5 (those with their
// share of the worker: `portalOfChat`, the key's second part). What is taken carries one new token. A head
// of a newer format than this version's is left alone, and holds its chat here: order is kept.
const CLAIM = prepared('claim', `WITH RECURSIVE clock AS MATERIALIZED (SELECT ${NOW_MS} AS now),
chats AS (
  (SELECT chat_key FROM b24_inbox WHERE status = 'pending' ORDER BY chat_key LIMIT 1)
  UNION ALL
  SELECT (SELECT i.chat_key FROM b24_inbox i WHERE i.status = 'pending' AND i.chat_key > c.chat_key ORDER BY i.chat_key LIMIT 1)
  FROM chats c WHERE c.chat_key IS NOT NULL
),
heads AS (
  SELECT c.chat_key, head.id FROM chats c CROSS JOIN clock
  CROSS JOIN LATERAL (SELECT id, next_at, format FROM b24_inbox i WHERE i.status = 'pending' AND i.chat_key = c.chat_key ORDER BY id LIMIT 1) head
  WHERE c.chat_key IS NOT NULL AND head.next_at <= clock.now AND head.format <= ${STORED_FORMAT} AND split_part(c.chat_key, ':', 2) <> ALL($5::text[])
    AND NOT EXISTS (SELECT 1 FROM b24_inbox x WHERE x.chat_key = c.chat_key AND x.claimed_by IS NOT NULL AND x.status = 'pending' AND x.claimed_until > clock.now)
  ORDER BY head.id LIMIT $3
),
lines AS (
  SELECT h.id AS head, r.id, r.next_at, r.format FROM heads h
  CROSS JOIN LATERAL (SELECT id, next_at, format FROM b24_inbox i WHERE i.status = 'pending' AND i.chat_key = h.chat_key ORDER BY id LIMIT $4) r
),
locked AS (
  SELECT i.id FROM b24_inbox i, clock WHERE i.id IN (SELECT id FROM lines) AND i.status = 'pending'
    AND (i.claimed_until IS NULL OR i.claimed_until <= clock.now)
  ORDER BY i.id FOR UPDATE OF i SKIP LOCKED
),
taken AS (
  SELECT l.id FROM lines l, clock WHERE NOT EXISTS (
    SELECT 1 FROM lines e WHERE e.head = l.head AND e.id <= l.id
      AND (e.next_at > clock.now OR e.format > ${STORED_FORMAT} OR e.id NOT IN (SELECT id FROM locked)))
  ORDER BY l.head, l.id
),
token AS MATERIALIZED (SELECT nextval('b24_claims') AS token)
UPDATE b24_inbox SET claimed_by = $1, claimed_until = clock.now + $2, claim = token.token FROM clock, token
WHERE b24_inbox.id IN (SELECT id FROM taken)
RETURNING ${RETURNED}`)

const RENEW = prepared('renew', `WITH mine AS (${MINE})
UPDATE b24_inbox SET claimed_until = ${NOW_MS} + $4 FROM mine WHERE b24_inbox.id = mine.id RETURNING b24_inbox.id`)

// A turn's completions in one statement: the records go, their dedup keys ($4) are kept. Sent
// unsynced (see PostgresDatabase.unsyncedPool for why a completion may be).
const COMPLETE = prepared('complete', `WITH mine AS (${MINE}),
keys AS (SELECT DISTINCT ON (c.key) c.key FROM unnest($1::bigint[], $4::text[]) AS c(id, key) JOIN mine ON mine.id = c.id WHERE c.key IS NOT NULL ORDER BY c.key),
remembered AS (INSERT INTO b24_seen (key, expires_at) SELECT key, ${NOW_MS} + $5 FROM keys ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at)
DELETE FROM b24_inbox USING mine WHERE b24_inbox.id = mine.id RETURNING b24_inbox.id`)

const NONE: ReadonlySet<string> = new Set()

const UNCLAIMED = 'claimed_by = NULL, claimed_until = NULL, claim = NULL'

const RELEASE = prepared('release', `WITH mine AS (${MINE}) UPDATE b24_inbox SET ${UNCLAIMED} FROM mine WHERE b24_inbox.id = mine.id RETURNING b24_inbox.id`)

const RETRY = prepared('retry', `WITH mine AS (${MINE}) UPDATE b24_inbox SET attempts = $4, next_at = ${NOW_MS} + $5, last_error = $6, ${UNCLAIMED} FROM mine WHERE b24_inbox.id = mine.id RETURNING b24_inbox.id`)

const BURY = prepared('bury', `WITH mine AS (${MINE}) UPDATE b24_inbox SET status = 'dead', attempts = $4, last_error = $5, ${UNCLAIMED} FROM mine WHERE b24_inbox.id = mine.id RETURNING b24_inbox.id`)

const SEEN = prepared('seen', `SELECT key FROM b24_seen WHERE key = ANY($1::text[]) AND expires_at > ${NOW_MS}`)

/** A claim this replica holds: handed out to the worker, or waiting here to be. */
interface Held {
  record: ClaimedRecord
  controller: AbortController
  /** Handed out (the worker has it). */
  out: boolean
}

/** A completion waiting for its turn's statement; `done` says whether the claim still held. */
interface Completion {
  claim: Claim
  key: string | null
  done: boolean
}

/** A dedup key waiting for its turn's lookup. */
interface Lookup {
  key: string
  seen: boolean
}

/**
 * The PostgreSQL store's queue, shared by every replica. A claimed record carries its claimant,
 * a deadline that this replica renews while it holds it, and a token; a chat with an unexpired
 * claim hands out nothing else, so a chat's records go one at a time, in order, across replicas.
 * A replica that dies stops renewing: after `claimTimeoutMs` another takes the record over, with
 * a new token, and what the old holder writes then changes nothing; a renewal that finds a claim
 * gone aborts its `lost`.
 *
 * Round trips are shared, as graphile-worker does: one statement claims many chats' heads and the
 * records after them (handed out here one per chat at a time, renewed together), the dedup keys
 * looked up in one turn go in one statement, and so do the completions of one turn.
 */
export class PostgresQueue implements Queue {
  readonly #db: PostgresDatabase
  readonly #options: Required<PostgresQueueOptions>
  /** Every claim this replica holds, by record id. */
  readonly #held = new Map<number, Held>()
  /** Records claimed and not handed out yet, by chat, in id order: a chat's next is handed out once the one out is done. */
  readonly #ahead = new Map<string, ClaimedRecord[]>()
  /** Chats with a record handed out. */
  readonly #outChats = new Set<string>()
  /** Whether a claim statement may find something not yet claimed here: told by notifications, wake-ups, and a chat drained. */
  #more = true
  /** The portals the last claim statement skipped. */
  #skipped: ReadonlySet<string> = NONE
  readonly #completions: Batcher<Completion>
  readonly #lookups: Batcher<Lookup>
  readonly #listeners = new Set<() => void>()
  /**
   * Releases on their way to the database: the store closes after them. A worker awaits its own,
   * but not those of a claim that answers, or a handler that finishes, after its stop's deadline:
   * they may start just before the store closes.
   */
  readonly #releasing = new Set<Promise<unknown>>()
  readonly #renewer: NodeJS.Timeout
  #wake: NodeJS.Timeout | undefined
  #wakeAt = Infinity

  constructor(db: PostgresDatabase, options: PostgresQueueOptions) {
    this.#db = db
    this.#options = { claimAhead: 8, perChat: 8, renewEveryMs: options.claimTimeoutMs / 3, ...options }
    // Few statements at a time (two of completions, one of lookups): what comes meanwhile goes in
    // the next, which waiting makes bigger.
    this.#completions = new Batcher((items) => this.#complete(items), { maxBatch: 256, maxInFlight: 2 })
    this.#lookups = new Batcher((items) => this.#lookUp(items), { maxBatch: 256, maxInFlight: 1 })
    this.#renewer = setInterval(() => void this.renew(), this.#options.renewEveryMs).unref()
  }

  async claim(limit: number, skip: ReadonlySet<string> = NONE): Promise<ClaimedRecord[]> {
    this.#arm(this.#options.pollIntervalMs)
    const out = this.#handOut(limit, skip)
    // A portal skipped by the last claim statement and not by this one: what it has pending is claimable now.
    if ([...this.#skipped].some((portal) => !skip.has(portal))) this.#more = true
    if (out.length === limit || !this.#more) return out
    this.#more = false
    try {
      await this.#fetch(limit - out.length + this.#options.claimAhead, skip)
    } catch (error) {
      this.#more = true
      // What was handed out already is held: it must reach the worker, whatever the statement did.
      if (out.length > 0) return out
      throw error
    }
    return out.concat(this.#handOut(limit - out.length, skip))
  }

  async seen(key: string): Promise<boolean> {
    const lookup = { key, seen: false }
    await this.#lookups.add(lookup)
    return lookup.seen
  }

  async complete(claim: Claim, key: string | null): Promise<boolean> {
    if (!this.#holds(claim)) return false
    const completion = { claim, key, done: false }
    await this.#completions.add(completion)
    this.#finish(claim.id, false)
    return completion.done
  }

  async retry(claim: Claim, attempts: number, nextAt: number, error: string): Promise<boolean> {
    if (!this.#holds(claim)) return false
    // Due times are the database's: a delay, not this host's clock, crosses over.
    const delayMs = Math.max(0, nextAt - Date.now())
    const rows = await this.#db.query(RETRY, [[claim.id], [claim.token], this.#options.owner, attempts, delayMs, error])
    // Its chat's next records wait for it, not due yet: held here they would hold the chat from
    // everyone, this replica too, until it is due. They go back with it.
    const back = this.#dropAhead((this.#held.get(claim.id) as Held).record.chatKey)
    this.#arm(delayMs)
    this.#finish(claim.id, true)
    if (back.length > 0) await this.#giveBack(back)
    return rows.length > 0
  }

  async bury(claim: Claim, attempts: number, error: string): Promise<boolean> {
    if (!this.#holds(claim)) return false
    const rows = await this.#db.query(BURY, [[claim.id], [claim.token], this.#options.owner, attempts, error])
    this.#finish(claim.id, false)
    return rows.length > 0
  }

  async release(claim: Claim): Promise<boolean> {
    if (!this.#holds(claim)) return false
    const chatKey = (this.#held.get(claim.id) as Held).record.chatKey
    const back = [claim, ...this.#dropAhead(chatKey)]
    this.#finish(claim.id, true)
    return (await this.#giveBack(back)).has(claim.id)
  }

  onAvailable(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Something may be claimable: a notification from the database, or a reconnection after which one may have been missed. */
  notify(): void {
    this.#more = true
    for (const listener of this.#listeners) listener()
  }

  /**
   * Renews every claim held (every `renewEveryMs`; now, when called). A claim the renewal does not
   * find is lost: its `lost` aborts, and a chat whose record out is lost gives back what waits
   * here of it (another holder has its head now). A renewal that fails is tried again at the next
   * tick; the claim outlives two of them.
   */
  async renew(): Promise<void> {
    const claims = [...this.#held.values()].map(({ record }) => record)
    if (claims.length === 0) return
    const rows = await this.#db
      .query<{ id: number }>(RENEW, [claims.map((c) => c.id), claims.map((c) => c.token), this.#options.owner, this.#options.claimTimeoutMs], this.#db.unsyncedPool)
      .catch(() => null)
    if (!rows) return
    const renewed = new Set(rows.map(({ id }) => id))
    const back: Claim[] = []
    for (const claim of claims) {
      const held = this.#held.get(claim.id)
      // Finished meanwhile (or given back with its chat): not this renewal's to judge.
      if (renewed.has(claim.id) || held?.record !== claim) continue
      held.controller.abort(new ClaimLostError(claim.id))
      // What waits here of its chat (this one too, when it was not out) must not be handed out
      // past a record another holder has now. The worker learns of one out from `lost`, and gives
      // it back: refused here without a round trip, which lets its chat go.
      back.push(...this.#dropAhead(claim.chatKey))
    }
    if (back.length > 0) await this.#giveBack(back)
  }

  /** Stops renewing and waking; gives back what waits here unhanded; resolves once the releases under way are written. */
  async close(): Promise<void> {
    clearInterval(this.#renewer)
    clearTimeout(this.#wake)
    const waiting = [...this.#ahead.keys()].flatMap((chatKey) => this.#dropAhead(chatKey))
    if (waiting.length > 0) void this.#giveBack(waiting)
    await this.#completions.drain()
    await Promise.all(this.#releasing)
  }

  // Takes from what is claimed here the oldest record of each chat with none out, up to `limit`,
  // none of a portal in `skip`.
  #handOut(limit: number, skip: ReadonlySet<string>): ClaimedRecord[] {
    const heads: ClaimedRecord[] = []
    for (const [chatKey, line] of this.#ahead) if (!this.#outChats.has(chatKey) && !skip.has(portalOfChat(chatKey))) heads.push(line[0] as ClaimedRecord)
    heads.sort((a, b) => a.id - b.id)
    const out = heads.slice(0, Math.max(0, limit))
    for (const record of out) {
      const line = this.#ahead.get(record.chatKey) as ClaimedRecord[]
      line.shift()
      if (line.length === 0) this.#ahead.delete(record.chatKey)
      this.#outChats.add(record.chatKey)
      ;(this.#held.get(record.id) as Held).out = true
    }
    return out
  }

  // Claims up to `chats` chats' records, to be handed out from here.
  async #fetch(chats: number, skip: ReadonlySet<string>): Promise<void> {
    const { owner, claimTimeoutMs, perChat } = this.#options
    const rows = await this.#db.query<Row & { claim: number }>(CLAIM, [owner, claimTimeoutMs, chats, perChat, [...skip]], this.#db.unsyncedPool)
    this.#skipped = skip
    rows.sort((a, b) => a.id - b.id)
    // As many chats as asked: there may be more.
    if (new Set(rows.map((row) => row.chat_key)).size === chats) this.#more = true
    for (const row of rows) {
      const controller = new AbortController()
      const record: ClaimedRecord = { ...toRecord(row), token: row.claim, lost: controller.signal }
      this.#held.set(row.id, { record, controller, out: false })
      const line = this.#ahead.get(record.chatKey)
      if (line) line.push(record)
      else this.#ahead.set(record.chatKey, [record])
    }
  }

  async #complete(items: Completion[]): Promise<void> {
    const rows = await this.#db.query<{ id: number }>(COMPLETE, [
      items.map(({ claim }) => claim.id),
      items.map(({ claim }) => claim.token),
      this.#options.owner,
      items.map(({ key }) => key),
      this.#options.dedupWindowMs,
    ], this.#db.unsyncedPool)
    const done = new Set(rows.map(({ id }) => id))
    for (const item of items) item.done = done.has(item.claim.id)
  }

  async #lookUp(items: Lookup[]): Promise<void> {
    const rows = await this.#db.query<{ key: string }>(SEEN, [items.map(({ key }) => key)])
    const seen = new Set(rows.map(({ key }) => key))
    for (const item of items) item.seen = seen.has(item.key)
  }

  // Whether `claim` is one this replica holds, not lost: a lost one is refused without a round trip.
  #holds(claim: Claim): boolean {
    const held = this.#held.get(claim.id)
    if (!held || held.record.token !== claim.token) return false
    if (!held.controller.signal.aborted) return true
    this.#finish(claim.id, false)
    return false
  }

  // The records of a chat that wait here, taken out (to be given back).
  #dropAhead(chatKey: string): Claim[] {
    const line = this.#ahead.get(chatKey) ?? []
    this.#ahead.delete(chatKey)
    for (const { id } of line) this.#held.delete(id)
    return line
  }

  // The record out is done with: its chat may hand out its next. `withAhead`: what waits of its chat was given back too.
  #finish(id: number, withAhead: boolean): void {
    const held = this.#held.get(id) as Held
    this.#held.delete(id)
    this.#outChats.delete(held.record.chatKey)
    // Nothing of its chat waits here: the database may hold its next records.
    if (withAhead || !this.#ahead.has(held.record.chatKey)) this.#more = true
    for (const listener of this.#listeners) listener()
  }

  // Gives claims back in one statement, where the database can be reached (otherwise they expire
  // on their own); resolves with the ids given back.
  async #giveBack(claims: Claim[]): Promise<Set<number>> {
    const released = this.#db
      .query<{ id: number }>(RELEASE, [claims.map((c) => c.id), claims.map((c) => c.token), this.#options.owner], this.#db.unsyncedPool)
      .then(
        (rows) => new Set(rows.map(({ id }) => id)),
        () => new Set<number>(),
      )
      .finally(() => {
        this.#releasing.delete(released)
        this.notify()
      })
    this.#releasing.add(released)
    return released
  }

  // Wakes the listeners within `delayMs` (a retry due, or the poll interval), keeping an earlier wake-up.
  #arm(delayMs: number): void {
    const at = Date.now() + delayMs
    if (this.#wake && at >= this.#wakeAt) return
    clearTimeout(this.#wake)
    this.#wakeAt = at
    this.#wake = setTimeout(() => {
      this.#wake = undefined
      this.#wakeAt = Infinity
      this.notify()
    }, delayMs)
    this.#wake.unref()
  }
}
