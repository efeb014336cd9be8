import Type, { type Static } from 'typebox'
import { Nullable } from './primitives.ts'

// What `/health` and `/ready` answer, and the figures behind them: the types the code uses are
// read from these schemas, so a reply cannot drift from what the code reports.


/** Whether the receiver can take events now, and why not. */
export const ReadinessSchema = Type.Object({ ready: Type.Boolean(), reason: Nullable(Type.String()) })
export type Readiness = Static<typeof ReadinessSchema>

/**
 * What a newer version of b24-receiver stored (a newer format than this one reads), which this
 * replica leaves alone: never claimed, decoded, dead-lettered, overwritten or deleted here. Not
 * zero: upgrade this replica (in a rolling upgrade, the replicas still on the old version).
 */
export const NewerFormatSchema = Type.Object({
  /** Events, pending or dead letters, and those held under pending installs; a pending one holds its chat here (what comes after it waits). */
  records: Type.Integer(),
  /** Pending installs (application mode). */
  candidates: Type.Integer(),
  /** Portals (application mode): their events wait here. */
  portals: Type.Integer(),
  /** Named values and leases: the poller's offset and lease (it stops polling here), the key check. */
  values: Type.Integer(),
})
export type NewerFormat = Static<typeof NewerFormatSchema>

/** The store's figures: events stored and not yet handled, and the dead letter (every format), and what this version leaves alone. */
export const StoreStatsSchema = Type.Object({
  depth: Type.Integer(),
  oldestPendingAgeMs: Nullable(Type.Integer()),
  retrying: Type.Integer(),
  deadLetters: Type.Integer(),
  newerFormat: NewerFormatSchema,
})
export type StoreStats = Static<typeof StoreStatsSchema>

/** Counters since start. */
export const EventCountsSchema = Type.Object({
  /** Events stored (duplicates not counted). */
  accepted: Type.Integer(),
  /** Double deliveries recognised and stored once. */
  duplicates: Type.Integer(),
  /** Authenticated events that failed to decode (kept in the dead letter). */
  rejected: Type.Integer(),
  /** Handler attempts that failed. */
  failed: Type.Integer(),
  /** Attempts abandoned because their claim was lost (it lapsed and another holder took the event over): nothing of them was written. */
  claimsLost: Type.Integer(),
  inFlight: Type.Integer(),
})
export type EventCounts = Static<typeof EventCountsSchema>

/** What `/health` says of the poller. */
export const PollerStateSchema = Type.Object({
  mode: Type.Union([Type.Literal('im'), Type.Literal('imbot')]),
  /** `standby`: another replica reads the queue (one reader per queue); this one takes over if it dies. */
  state: Type.Union([Type.Literal('starting'), Type.Literal('polling'), Type.Literal('standby'), Type.Literal('retrying'), Type.Literal('stopped'), Type.Literal('failed')]),
  /** This replica's name (the health's `replica`), which its poller's lease holds. */
  replica: Type.String(),
  /** Which replica reads the queue (holds its lease), when known. */
  reader: Nullable(Type.String()),
  /** The offset the next call confirms, once known. */
  offset: Nullable(Type.Integer()),
  /** Events received (duplicates included) since start. */
  received: Type.Integer(),
  lastPollAt: Nullable(Type.String()),
  /** The last failure (a Bitrix24 code and text, never a URL or token), or `null` once a call succeeds. */
  lastError: Nullable(Type.String()),
})
export type PollerState = Static<typeof PollerStateSchema>

/** The installs the OAuth server has not confirmed yet (application mode), and the bounds they are kept within. */
export const PendingInstallsHealthSchema = Type.Object({
  /** Candidate installs stored, whichever replica took them. */
  candidates: Type.Integer(),
  /** Events stored under them, held until each is settled. */
  events: Type.Integer(),
  /** Confirmations this replica has in flight towards the OAuth server. */
  confirming: Type.Integer(),
  /** Until when this replica leaves the OAuth server alone after it failed to answer (then asks once), or `null` while it answers. */
  oauthRestingUntil: Nullable(Type.String()),
  /** The bounds: candidates per portal and in all, events per candidate (past them, 503), confirmations in flight. */
  limits: Type.Object({ perPortal: Type.Integer(), installs: Type.Integer(), eventsPerInstall: Type.Integer(), confirming: Type.Integer() }),
})
export type PendingInstallsHealth = Static<typeof PendingInstallsHealthSchema>

/** What `/health` says of application mode: its portals by status, those that need the application installed again, and a fatal error. */
export const AppHealthSchema = Type.Object({
  /** `pending`: portals with no confirmed install yet, only candidates. */
  portals: Type.Object({ active: Type.Integer(), pending: Type.Integer(), reinstall: Type.Integer(), uninstalled: Type.Integer() }),
  pendingInstalls: PendingInstallsHealthSchema,
  /** Portals whose refresh token the OAuth server refused (`invalid_grant`): install the application there again. */
  needReinstall: Type.Array(Type.Object({ memberId: Type.String(), domain: Type.String() })),
  /** Why no portal can be called (our client id or secret refused), or `null`. */
  error: Nullable(Type.String()),
})
export type AppHealth = Static<typeof AppHealthSchema>

/** A portal's REST bucket as this replica last saw it. */
export const RestBucketSchema = Type.Object({
  /** The portal's host. */
  portal: Type.String(),
  /** Calls counted in its bucket now (as last known, drained since); the portal refuses past `threshold`. */
  level: Type.Number(),
  threshold: Type.Integer(),
  /** Calls of this replica waiting for room. */
  waiting: Type.Integer(),
})
export type RestBucket = Static<typeof RestBucketSchema>

/** What `/health` says of the REST calls handlers make. */
export const RestHealthSchema = Type.Object({
  /** The busiest portals' buckets (those with calls waiting first, then the fullest), a few at most; portals idle long enough to drain are left out. */
  buckets: Type.Array(RestBucketSchema),
})
export type RestHealth = Static<typeof RestHealthSchema>

/** `GET /health`: always 200; `status` says whether events can be taken now. */
export const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  version: Type.String(),
  node: Type.String(),
  /** This receiver's name (`host:pid:random`), as the queue's claims and the leases name it. */
  replica: Type.String(),
  uptimeSeconds: Type.Integer(),
  ...ReadinessSchema.properties,
  events: EventCountsSchema,
  /** ISO time of the last accepted event. */
  lastEventAt: Nullable(Type.String()),
  /** The store's figures, `null` while it is unavailable. */
  inbox: Nullable(StoreStatsSchema),
  poller: Nullable(PollerStateSchema),
  /** Application mode, or `null` when it is off. */
  app: Nullable(AppHealthSchema),
  rest: RestHealthSchema,
})
export type Health = Static<typeof HealthSchema>
