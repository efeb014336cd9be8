import { portalOfChat } from '../../src/event/event-keys.ts'
import type { StoreStats } from '../../schemas/health.ts'
import type { CandidateRow, NewCandidate, PortalRow } from '../../schemas/portal.ts'
import { assertNewCandidate } from '../../src/store/candidate-rows.ts'
import { assertPortalPatch, assertPortalRow, patchedFields, type PortalPatch } from '../../src/store/portal-rows.ts'
import { ClaimLostError } from '../../src/store/claim-lost-error.ts'
import type { CandidateAdded, CandidateAppend, CandidateBounds, Candidates, Claim, ClaimedRecord, DeadLetter, NewRecord, Portals, Store, StoredRecord } from '../../src/store/store.ts'
import { StoreUnavailableError } from '../../src/store/store-unavailable-error.ts'

interface Row extends StoredRecord {
  status: 'pending' | 'dead' | 'done'
  nextAt: number
  error: string | null
}

/**
 * A store in memory, for tests where storage is not the subject: the Store contract (one record
 * of a chat at a time in order, dedup keys, dead letter, meta, leases, portals, candidate installs)
 * without a database.
 * `failing = true` makes every write fail as an unwritable store would.
 */
export class MemoryStore implements Store {
  readonly rows: Row[] = []
  failing = false
  closed = false
  readonly #values = new Map<string, string>()
  /** Dedup keys of handled records (no window: a test never outlives it). */
  readonly seenKeys = new Set<string>()
  readonly #leaseHolders = new Map<string, { owner: string; expiresAt: number }>()
  /** Held chats, and the claim each is held by. */
  readonly #held = new Map<string, { id: number; token: number; controller: AbortController }>()
  #tokens = 0
  readonly #listeners = new Set<() => void>()

  async append(record: NewRecord): Promise<void> {
    this.#write()
    const now = Date.now()
    this.rows.push({ ...record, id: this.rows.length + 1, attempts: 0, receivedAt: now, nextAt: now, status: 'pending', error: null })
    this.#notify()
  }

  readonly queue = {
    claim: async (limit: number, skip: ReadonlySet<string> = new Set()): Promise<ClaimedRecord[]> => {
      const now = Date.now()
      const heads = new Map<string, Row>()
      for (const row of this.rows) if (row.status === 'pending' && !heads.has(row.chatKey)) heads.set(row.chatKey, row)
      const due = [...heads.values()].filter((row) => row.nextAt <= now && !this.#held.has(row.chatKey) && !skip.has(portalOfChat(row.chatKey))).slice(0, limit)
      return due.map(({ status: _, nextAt: __, error: ___, ...record }) => {
        const claim = { id: record.id, token: ++this.#tokens, controller: new AbortController() }
        this.#held.set(record.chatKey, claim)
        return { ...record, token: claim.token, lost: claim.controller.signal }
      })
    },
    seen: async (key: string) => this.seenKeys.has(key),
    complete: async (claim: Claim, key: string | null) => {
      if (!this.#finish(claim, { status: 'done' })) return false
      if (key !== null) this.seenKeys.add(key)
      return true
    },
    retry: async (claim: Claim, attempts: number, nextAt: number, error: string) => {
      if (!this.#finish(claim, { attempts, nextAt, error })) return false
      // A timer may fire a millisecond early: one more, or the record would not be due yet.
      setTimeout(() => this.#notify(), Math.max(0, nextAt - Date.now()) + 1).unref()
      return true
    },
    bury: async (claim: Claim, attempts: number, error: string) => this.#finish(claim, { status: 'dead', attempts, error }),
    release: async (claim: Claim) => this.#finish(claim, {}),
    onAvailable: (listener: () => void) => {
      this.#listeners.add(listener)
      return () => this.#listeners.delete(listener)
    },
  }

  readonly deadLetters = {
    list: async (): Promise<DeadLetter[]> => this.rows.filter((row) => row.status === 'dead').map(toDeadLetter),
    get: async (id: number) => {
      const row = this.rows.find((candidate) => candidate.id === id && candidate.status === 'dead')
      return row ? toDeadLetter(row) : null
    },
    record: async (id: number) => this.rows.find((row) => row.id === id && row.status === 'dead') ?? null,
    revive: async (id: number) => {
      this.#write()
      Object.assign(this.#row(id), { status: 'pending', attempts: 0, nextAt: Date.now(), error: null })
      this.#notify()
    },
    drop: async (id: number) => {
      this.#write()
      const index = this.rows.findIndex((row) => row.id === id && row.status === 'dead')
      if (index === -1) return false
      this.rows.splice(index, 1)
      return true
    },
    purge: async (before: number, limit: number) => {
      this.#write()
      const doomed = this.rows.filter((row) => row.status === 'dead' && row.nextAt < before).sort((a, b) => a.nextAt - b.nextAt).slice(0, limit)
      for (const row of doomed) this.rows.splice(this.rows.indexOf(row), 1)
      return doomed.length
    },
  }

  readonly meta = {
    get: async (key: string) => this.#values.get(key) ?? null,
    set: async (key: string, value: string) => {
      this.#write()
      this.#values.set(key, value)
    },
  }

  readonly leases = {
    lease: async (name: string, owner: string, ttlMs: number) => {
      this.#write()
      const held = this.#leaseHolders.get(name)
      if (held && held.owner !== owner && held.expiresAt > Date.now()) return false
      this.#leaseHolders.set(name, { owner, expiresAt: Date.now() + ttlMs })
      return true
    },
    unlease: async (name: string, owner: string) => {
      if (this.#leaseHolders.get(name)?.owner === owner) this.#leaseHolders.delete(name)
    },
    holder: async (name: string) => {
      const held = this.#leaseHolders.get(name)
      return held && held.expiresAt > Date.now() ? held.owner : null
    },
  }

  /** The stored portals by `memberId`, as a database would hold them: copies, never the caller's objects. */
  readonly portalRows = new Map<string, PortalRow>()

  readonly portals: Portals = {
    get: async (memberId: string) => {
      const row = this.portalRows.get(memberId)
      return row ? { ...row } : null
    },
    list: async () => [...this.portalRows.keys()].sort().map((memberId) => ({ ...(this.portalRows.get(memberId) as PortalRow) })),
    put: async (row: PortalRow) => {
      this.#write()
      assertPortalRow(row)
      this.portalRows.set(row.memberId, { ...row })
    },
    update: async (memberId: string, patch: PortalPatch) => {
      this.#write()
      assertPortalPatch(patch)
      const row = this.portalRows.get(memberId)
      if (!row) return false
      for (const field of patchedFields(patch)) Object.assign(row, { [field]: patch[field] })
      return true
    },
    delete: async (memberId: string) => {
      this.#write()
      return this.portalRows.delete(memberId)
    },
    purge: async (before: number) => {
      this.#write()
      const referred = new Set([...this.rows.filter((row) => row.status !== 'done').map((row) => row.portal.memberId), ...[...this.candidateRows.values()].map((row) => row.memberId)])
      const doomed = [...this.portalRows.values()].filter((row) => row.status === 'uninstalled' && row.updatedAt < before && !referred.has(row.memberId))
      for (const row of doomed) this.portalRows.delete(row.memberId)
      return doomed.length
    },
  }

  /** The candidate installs by id, and the events held under each, as a database would hold them. */
  readonly candidateRows = new Map<number, CandidateRow>()
  readonly candidateEvents: Array<{ candidateId: number; record: NewRecord; receivedAt: number }> = []
  #candidateIds = 0

  readonly candidates: Candidates = {
    get: async (id: number) => {
      const row = this.candidateRows.get(id)
      return row ? { ...row } : null
    },
    of: async (memberId: string) => [...this.candidateRows.values()].filter((row) => row.memberId === memberId).map((row) => ({ ...row })),
    list: async () => [...this.candidateRows.values()].map((row) => ({ ...row })),
    add: async (candidate: NewCandidate, first: NewRecord, bounds: CandidateBounds): Promise<CandidateAdded> => {
      this.#write()
      assertNewCandidate(candidate)
      const rows = [...this.candidateRows.values()]
      if (rows.filter((row) => row.memberId === candidate.memberId).length >= bounds.perPortal) return { refused: 'perPortal' }
      if (rows.length >= bounds.total) return { refused: 'total' }
      const id = ++this.#candidateIds
      this.candidateRows.set(id, { ...candidate, id })
      this.candidateEvents.push({ candidateId: id, record: { ...first }, receivedAt: Date.now() })
      return { id }
    },
    append: async (id: number, record: NewRecord, maxEvents: number): Promise<CandidateAppend> => {
      this.#write()
      if (!this.candidateRows.has(id)) return 'gone'
      if (this.candidateEvents.filter((event) => event.candidateId === id).length >= maxEvents) return 'full'
      this.candidateEvents.push({ candidateId: id, record: { ...record }, receivedAt: Date.now() })
      return 'stored'
    },
    confirm: async (id: number, portal: PortalRow | null) => {
      this.#write()
      if (portal) assertPortalRow(portal)
      if (!this.candidateRows.delete(id)) return false
      if (portal) this.portalRows.set(portal.memberId, { ...portal })
      const now = Date.now()
      for (const { record, receivedAt } of this.#takeEvents(id)) this.rows.push({ ...record, id: this.rows.length + 1, attempts: 0, receivedAt, nextAt: now, status: 'pending', error: null })
      this.#notify()
      return true
    },
    drop: async (id: number) => {
      this.#write()
      this.#takeEvents(id)
      return this.candidateRows.delete(id)
    },
    stats: async () => ({ candidates: this.candidateRows.size, events: this.candidateEvents.length }),
  }

  async stats(): Promise<StoreStats> {
    const pending = this.rows.filter((row) => row.status === 'pending')
    const oldest = Math.min(...pending.map((row) => row.receivedAt))
    return {
      depth: pending.length,
      oldestPendingAgeMs: pending.length === 0 ? null : Date.now() - oldest,
      retrying: pending.filter((row) => row.attempts > 0).length,
      deadLetters: this.rows.filter((row) => row.status === 'dead').length,
      // It keeps what it is given in memory, never in a format another version wrote.
      newerFormat: { records: 0, candidates: 0, portals: 0, values: 0 },
    }
  }

  unavailable(): string | null {
    return this.failing ? 'the store cannot be written' : null
  }

  async close(): Promise<void> {
    this.closed = true
  }

  /** The records in a status, oldest first. */
  inStatus(status: Row['status']): Row[] {
    return this.rows.filter((row) => row.status === status)
  }

  /** Takes a candidate's events out, in the order they came. */
  #takeEvents(id: number): Array<{ record: NewRecord; receivedAt: number }> {
    const taken = this.candidateEvents.filter((event) => event.candidateId === id)
    this.candidateEvents.splice(0, this.candidateEvents.length, ...this.candidateEvents.filter((event) => event.candidateId !== id))
    return taken
  }

  #write(): void {
    if (this.failing || this.closed) throw new StoreUnavailableError('the store cannot be written')
  }

  #row(id: number): Row {
    return this.rows.find((row) => row.id === id) as Row
  }

  /**
   * The claim on record `id` lapses, as a PostgreSQL claim does when its holder stops renewing it:
   * its chat is free again, its `lost` aborts, and what its holder writes then changes nothing.
   */
  loseClaim(id: number): void {
    const chatKey = this.#row(id).chatKey
    const claim = this.#held.get(chatKey)
    if (claim?.id !== id) throw new Error(`record ${id} is not claimed`)
    this.#held.delete(chatKey)
    claim.controller.abort(new ClaimLostError(id))
    this.#notify()
  }

  // Writes an outcome fenced by its claim: `false` (nothing written) when the claim is not the chat's now.
  #finish(claim: Claim, update: Partial<Row>): boolean {
    this.#write()
    const row = this.#row(claim.id)
    if (this.#held.get(row.chatKey)?.token !== claim.token) return false
    Object.assign(row, update)
    this.#held.delete(row.chatKey)
    this.#notify()
    return true
  }

  #notify(): void {
    for (const listener of this.#listeners) listener()
  }
}

function toDeadLetter(row: Row): DeadLetter {
  return { id: row.id, type: row.type, receivedAt: new Date(row.receivedAt).toISOString(), attempts: row.attempts, error: row.error as string, source: row.source, portal: row.portal, bodyKind: row.bodyKind, body: row.bodyKind === 'form' ? row.body : JSON.parse(row.body) }
}
