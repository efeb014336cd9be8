import pg from 'pg'
import { checkedOut } from './checked-out.ts'
import { migrate } from './migrations.ts'
import type { PostgresConnection } from './postgres-connection.ts'

/** The database's own clock, in epoch ms: replicas on several hosts agree on due times and claims only by one clock. */
export const NOW_MS = '(extract(epoch from clock_timestamp()) * 1000)::bigint'

// Timestamps (epoch ms) and ids are int8: well inside 2^53, so numbers, not strings.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
}

/**
 * A statement prepared once per connection under its name: each later run sends only its values,
 * and the server plans it from its cache instead of parsing and planning the text again (the
 * claim's is most of the server's work per claim otherwise). Its result columns are named, never
 * `*`: a column a later version's migration adds would change a cached plan's result type, which
 * PostgreSQL refuses to run.
 */
export interface Prepared {
  name: string
  text: string
}

/** A statement prepared under `name` (unique per text: one name given two texts is refused by the driver). */
export const prepared = (name: string, text: string): Prepared => ({ name: `b24_${name}`, text })

/** How much longer than the server's bound on a statement the client waits for its answer. */
export const CLIENT_GRACE_MS = 1000

/**
 * What every connection is opened with. The server bounds each statement (`statement_timeout`,
 * `timeoutMs`) and the client waits a little longer (`query_timeout`): by the time the client
 * gives up, the server has decided, committed or cancelled. With the client's bound alone, a
 * statement it gave up on could still commit: an append answered 503 stored all the same, an
 * outcome that timed out written after the worker let its record go. A transaction left idle
 * (its client gone, or stalled between two statements) is ended by the server a little after
 * the client would have given up on it, its locks let go.
 */
function connectionSettings(options: PostgresConnection) {
  const timeoutMs = options.timeoutMs ?? 5000
  return {
    connectionString: options.connectionString,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs + CLIENT_GRACE_MS,
    keepAlive: true,
    types,
    options: `-c statement_timeout=${timeoutMs} -c idle_in_transaction_session_timeout=${timeoutMs + 2 * CLIENT_GRACE_MS}`,
  }
}

/**
 * The pool every part of the PostgreSQL store queries through. It runs the migrations before the
 * first query (again after a failure: a database down at start is tried on the next call), and
 * knows whether the last query went through: a refused or timed-out query makes the store
 * unavailable (503, `/ready` false) until one succeeds again.
 */
export class PostgresDatabase {
  /** The pool whose commits wait for the WAL flush: what it answered survives a crash of PostgreSQL. */
  readonly pool: pg.Pool
  /**
   * The pool whose commits do not wait for the WAL flush (`synchronous_commit=off`): a crash of
   * PostgreSQL may lose the last of them, though they were answered. Only writes whose loss
   * leaves the inbox correct go through it: a claim or a release lost leaves its record unclaimed
   * or claimed until its timeout, then claimed again (at least once, as after a replica's death);
   * a renewal lost ends a claim early, the same; a notification lost is found by the next poll. A
   * completion lost leaves its record pending, handled again once PostgreSQL is back (at least
   * once, as after a replica's death between the handlers and the completion), and its dedup key
   * unkept; what is lost is the last of the WAL, so a chat's completions are lost from the end,
   * never one before another that stays: the chat's order holds. Waiting for the flush there put
   * an fsync between each of a chat's events (the worker fell seconds behind a door at full speed).
   * Never a record or anything a door acknowledges: those go through {@link pool}.
   */
  readonly unsyncedPool: pg.Pool
  readonly #options: PostgresConnection
  #migrated: Promise<void> | null = null
  #failure: string | null = null

  constructor(options: PostgresConnection) {
    this.#options = options
    const settings = connectionSettings(options)
    // A 200 means committed: whatever the server's default, commits wait for the WAL flush.
    this.pool = new pg.Pool({ ...settings, max: options.poolSize ?? 10, options: `${settings.options} -c synchronous_commit=on` })
    this.unsyncedPool = new pg.Pool({ ...settings, max: 4, options: `${settings.options} -c synchronous_commit=off` })
    // An idle connection that breaks (a restart of PostgreSQL) is dropped from the pool; the next query reconnects.
    for (const pool of [this.pool, this.unsyncedPool]) pool.on('error', () => undefined)
  }

  /** Why the last query failed, or `null` when it went through. */
  get failure(): string | null {
    return this.#failure
  }

  /** A new client outside the pool (for `LISTEN`), with the same settings. */
  client(): pg.Client {
    // Probed after 10 s of silence (not the OS's two hours): a listener cut off without a reset
    // (a network partition) is noticed, and connects again.
    return new pg.Client({ ...connectionSettings(this.#options), keepAliveInitialDelayMillis: 10000 })
  }

  /** Runs one statement (its own transaction; prepared once per connection when it is a {@link Prepared}) once the schema is up to date; the rows it returned. */
  async query<T extends object>(statement: string | Prepared, values: unknown[] = [], pool = this.pool): Promise<T[]> {
    await this.ready()
    const config = typeof statement === 'string' ? { text: statement, values } : { ...statement, values }
    return this.#track(async () => (await pool.query<T>(config)).rows)
  }

  /** Closes both pools. */
  async end(): Promise<void> {
    await Promise.all([this.pool.end(), this.unsyncedPool.end()])
  }

  /** Runs `work` in one transaction on one connection. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready()
    return this.#track(() =>
      checkedOut(this.pool, async (client) => {
        try {
          await client.query('BEGIN')
          const result = await work(client)
          await client.query('COMMIT')
          return result
        } catch (error) {
          // A connection lost cannot roll back: PostgreSQL rolls back what it leaves open.
          await client.query('ROLLBACK').catch(() => undefined)
          throw error
        }
      }),
    )
  }

  /** The schema brought up to date (once; again after a failure). */
  ready(): Promise<void> {
    this.#migrated ??= this.#track(() => migrate(this.pool)).catch((error: unknown) => {
      this.#migrated = null
      throw error
    })
    return this.#migrated
  }

  async #track<T>(work: () => Promise<T>): Promise<T> {
    try {
      const result = await work()
      this.#failure = null
      return result
    } catch (error) {
      // A table is missing (undefined_table): the database was dropped and made again, or
      // restored without the schema; the next call migrates (under the migration lock) again.
      if ((error as { code?: string }).code === '42P01') this.#migrated = null
      this.#failure = `PostgreSQL cannot be used: ${(error as Error).message}`
      throw error
    }
  }
}
