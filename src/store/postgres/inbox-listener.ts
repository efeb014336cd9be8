import type pg from 'pg'
import type { PostgresDatabase } from './postgres-database.ts'

/** How long a lost listening connection waits before it connects again. */
const RECONNECT_MS = 1000

/**
 * One connection of its own that `LISTEN`s for what any replica stores or revives, so an idle
 * worker hears of a new event within milliseconds. Lost, it connects again, and says so
 * (`onNotify`): what was announced meanwhile is claimable now.
 */
export class InboxListener {
  readonly #db: PostgresDatabase
  readonly #onNotify: () => void
  readonly #reconnectMs: number
  #client: pg.Client | null = null
  #timer: NodeJS.Timeout | undefined
  #closed = false

  /** `reconnectMs` (a second) is settable so that a test sees several reconnections without waiting seconds. */
  constructor(db: PostgresDatabase, onNotify: () => void, reconnectMs = RECONNECT_MS) {
    this.#db = db
    this.#onNotify = onNotify
    this.#reconnectMs = reconnectMs
    void this.#connect()
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    await this.#client?.end().catch(() => undefined)
  }

  async #connect(): Promise<void> {
    const client = this.#db.client()
    this.#client = client
    let lost = false
    const reconnect = () => {
      if (lost || this.#closed) return
      lost = true
      void client.end().catch(() => undefined)
      this.#timer = setTimeout(() => void this.#connect(), this.#reconnectMs).unref()
    }
    client.on('error', reconnect)
    client.on('end', reconnect)
    client.on('notification', () => this.#onNotify())
    try {
      await client.connect()
      await client.query('LISTEN b24_inbox')
    } catch {
      return reconnect()
    }
    // A guard only: close() ends the client, and pg then fails the connect or LISTEN under way.
    /* c8 ignore next */
    if (this.#closed) return void client.end().catch(() => undefined)
    this.#onNotify()
  }
}
