import type { StoreStats } from '../../schemas/health.ts'
import type { CandidateRow, NewCandidate, Portal, PortalRow } from '../../schemas/portal.ts'
import type { RestBuckets } from './rest-buckets.ts'

/** Which door an event came through: a replay decodes it again the same way. */
export type Source = 'webhook' | 'poll'

/**
 * What a record's `body` holds, for whoever decodes it; the store never looks inside. `form`: a
 * PHP form body as it came, credential pairs cut out. `payload`: JSON as it came through the door
 * (a webhook's JSON body, or one polled event), credentials cut out. `event`: an event decoded
 * before it was stored (what an earlier release kept).
 */
export type BodyKind = 'form' | 'payload' | 'event'

/** An event as the doors hand it to the store: its wire, not yet decoded. */
export interface NewRecord {
  /** Records of one chat are handed out one at a time, in the order they were appended. */
  chatKey: string
  /** The event type the door read (upper case). */
  type: string
  source: Source
  portal: Portal
  bodyKind: BodyKind
  body: string
  /** The credentials that came with it, sealed, or `null` for none; deleted with the record. */
  credentials: string | null
}

/** A stored record, as the store hands it back. */
export interface StoredRecord extends NewRecord {
  id: number
  /** Attempts already made (0 on the first try). */
  attempts: number
  /** Epoch ms it was stored. */
  receivedAt: number
}

/** A claim on one record: the record's id and the claim's token, its fence. */
export interface Claim {
  id: number
  /**
   * Which claim this is: a record claimed again (after a release, or taken over once a claim
   * lapsed) gets a new one, so an outcome written with an older one changes nothing.
   */
  token: number
}

/** A record as a claim hands it out. */
export interface ClaimedRecord extends StoredRecord, Claim {
  /**
   * Aborted when the store learns that this claim is gone: it lapsed unrenewed (a partition, a
   * stall) and another holder may be handling the record now. Its reason says which record.
   */
  readonly lost: AbortSignal
}

/**
 * The worker's side: records handed out one chat at a time. A claimed record is held (no other
 * claim gets its chat) until its outcome is written or it is released. Every outcome write is
 * fenced by the claim's token: it acts only while the claim is still the one given, and resolves
 * `false` (nothing changed) when it is not, so a holder whose claim lapsed and was taken over can
 * never complete, retry, bury or release the record under its new holder.
 */
export interface Queue {
  /**
   * Up to `limit` due records, each the oldest of a chat nobody holds, oldest first; none of a
   * portal in `skip` (the part of the chat key `portalOfChat` reads: portals with their share of the worker).
   */
  claim(limit: number, skip?: ReadonlySet<string>): Promise<ClaimedRecord[]>
  /** Whether an event with this dedup key was handled within the dedup window. */
  seen(key: string): Promise<boolean>
  /**
   * Handled (or a duplicate): the record and its credentials go; `key`, its dedup key, is kept
   * for the dedup window. `false`: the claim was lost, nothing written.
   */
  complete(claim: Claim, key: string | null): Promise<boolean>
  /** Failed; to be claimable again at `nextAt` (epoch ms). `false`: the claim was lost, nothing written. */
  retry(claim: Claim, attempts: number, nextAt: number, error: string): Promise<boolean>
  /** Failed for the last time, or cannot be decoded: to the dead letter, its wire kept. `false`: the claim was lost. */
  bury(claim: Claim, attempts: number, error: string): Promise<boolean>
  /**
   * Gives a claimed record back as it is (its outcome could not be written, or the worker stops);
   * resolves once it is claimable again. `false`: not given back by this call, because the claim
   * was lost meanwhile, or because the store cannot write it now and lets the claim end on its own
   * instead (PostgreSQL's, by its timeout).
   */
  release(claim: Claim): Promise<boolean>
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
  /** A dead letter whole, sealed credentials included, for a replay: never printed. */
  record(id: number): Promise<StoredRecord | null>
  /** Back in line as it was stored, attempts reset: the worker decodes it again. */
  revive(id: number): Promise<void>
  /** Deletes a dead letter for good; `false` when there is none with that id. */
  drop(id: number): Promise<boolean>
  /**
   * Deletes up to `limit` dead letters whose last attempt came due before `before` (epoch ms),
   * oldest first, those a newer version wrote left alone; resolves to how many went (fewer than
   * `limit`: none older is left, but for those another process is purging or replaying right
   * now, which it skips). A dead letter's age counts from its last attempt, not its
   * arrival: one replayed and failed again is kept anew. Several processes purging at once
   * delete each letter once between them (see ./retention.ts, which calls it a batch at a time).
   */
  purge(before: number, limit: number): Promise<number>
}

/** Small named values that must survive a restart: the poller's offsets, the seal key's check. */
export interface Meta {
  get(key: string): Promise<string | null>
  set(key: string, value: string): Promise<void>
}

/**
 * Leases on names, each held by one owner (a replica name) at a time: the poller's one reader
 * per queue and application mode's one refresh per portal, whatever process or replica runs them.
 */
export interface Leases {
  /** Takes or renews the lease on `name` for `owner` until `ttlMs` from now; `false` while another owner holds an unexpired one. */
  lease(name: string, owner: string, ttlMs: number): Promise<boolean>
  /** Gives a lease up, if `owner` holds it. */
  unlease(name: string, owner: string): Promise<void>
  /** Who holds an unexpired lease on `name` (`/health` says which replica polls), or `null`. */
  holder(name: string): Promise<string | null>
}

/**
 * The portals of a Bitrix24 application (application mode): what `ONAPPINSTALL` stored, with
 * its tokens sealed. Rows are written whole at install; later changes touch only the fields
 * they name, so a version update never writes back tokens that a refresh has just replaced.
 */
export interface Portals {
  get(memberId: string): Promise<PortalRow | null>
  /** Every stored portal, by `memberId`. */
  list(): Promise<PortalRow[]>
  /** Stores a portal whole, replacing any row of the same `memberId` (a reinstall). */
  put(row: PortalRow): Promise<void>
  /** Changes the fields given, nothing else; `false` when no such portal is stored. */
  update(memberId: string, patch: Partial<Omit<PortalRow, 'memberId'>>): Promise<boolean>
  /** Deletes the portal's row; `false` when there was none. */
  delete(memberId: string): Promise<boolean>
  /**
   * Deletes the rows of portals `uninstalled` before `before` (epoch ms, their `updatedAt`) that
   * nothing stored refers to any more: no event or dead letter of theirs in the inbox, no install
   * of theirs waiting; those a newer version wrote left alone. Resolves to how many went.
   */
  purge(before: number): Promise<number>
}

/** How many candidates {@link Candidates.add} keeps: per portal, and in all. */
export interface CandidateBounds {
  perPortal: number
  total: number
}

/** What {@link Candidates.add} did: the candidate's id, or the bound that kept it out (nothing stored). */
export type CandidateAdded = { id: number } | { refused: 'perPortal' | 'total' }

/** What {@link Candidates.append} did: `full` (it holds as many events as allowed) and `gone` (settled meanwhile) stored nothing. */
export type CandidateAppend = 'stored' | 'full' | 'gone'

/**
 * The installs of application mode the OAuth server has not confirmed yet, each with the events
 * that came with its token, held apart from the inbox until it is settled: confirmed, its events
 * join the inbox; refused, they go with it. Each write is whole or nothing.
 */
export interface Candidates {
  get(id: number): Promise<CandidateRow | null>
  /** The candidates of one portal, oldest first. */
  of(memberId: string): Promise<CandidateRow[]>
  /** Every candidate, oldest first. */
  list(): Promise<CandidateRow[]>
  /** Stores a candidate and its first event (its `ONAPPINSTALL`) together, unless a bound is reached. */
  add(candidate: NewCandidate, first: NewRecord, bounds: CandidateBounds): Promise<CandidateAdded>
  /** Stores an event under a candidate, unless it holds `maxEvents` already or is gone. */
  append(id: number, record: NewRecord, maxEvents: number): Promise<CandidateAppend>
  /**
   * The OAuth server confirmed it: `portal` (unless `null`) replaces the portal's row, its events
   * join the inbox in the order they came (their arrival times kept), and it goes; `false` when it
   * was gone already (settled elsewhere).
   */
  confirm(id: number, portal: PortalRow | null): Promise<boolean>
  /** The OAuth server refused it: it goes with its events; `false` when it was gone already. */
  drop(id: number): Promise<boolean>
  /** How many candidates are stored, and events under them. */
  stats(): Promise<{ candidates: number; events: number }>
}

/**
 * Where events wait between the doors and the handlers. `append` resolves only once the record
 * is durable: a door acknowledges nothing before. The receiver's `store` option chooses one, in
 * one place (./chosen-store.ts): `sqliteStore({ dataDir })` (./sqlite/sqlite-store.ts: one process,
 * the default), `postgresStore({ connectionString })` (./postgres/postgres-store.ts: replicas
 * sharing one database), or a Store of one's own, given opened, taken as it is.
 */
export interface Store {
  /**
   * Stores a record; resolves once committed (double deliveries are stored too: the worker
   * recognises them once decoded).
   * @throws {StoreUnavailableError} when it cannot be stored: the door must not acknowledge.
   */
  append(record: NewRecord): Promise<void>
  readonly queue: Queue
  readonly deadLetters: DeadLetters
  readonly meta: Meta
  readonly leases: Leases
  // Optional, though both built-in stores have them: only application mode uses them, and a Store
  // of one's own for webhook tokens need not carry what it never asks. With `app`, the receiver
  // refuses a store without them at start, before the doors open (as `portals` commands do).
  /** The application's portals. */
  readonly portals?: Portals
  /** The installs not confirmed yet. */
  readonly candidates?: Candidates
  /**
   * Each portal's REST bucket, counted by every process that shares this store (both built-in
   * stores have them: PostgreSQL's shared by the replicas, SQLite's the process's). Without them,
   * each receiver paces its own calls alone.
   */
  readonly restBuckets?: RestBuckets
  stats(): Promise<StoreStats>
  /** Why records cannot be appended now, or `null` when they can. */
  unavailable(): string | null
  close(): Promise<void>
}
