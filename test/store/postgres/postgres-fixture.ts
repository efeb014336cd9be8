import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { Test } from 'tap'
import { openPostgresStore, type PostgresStoreOptions } from '../../../src/store/postgres/open-postgres-store.ts'
import type { Store } from '../../../src/store/store.ts'
import { startTcpProxy, type TcpProxy } from '../../fakes/tcp-proxy.ts'

export { newRecord, PORTAL, textOf } from '../../fakes/new-record.ts'

// Tests against the real PostgreSQL (README: .ci/run makes sure it is up). Each test gets a
// database of its own, created through the maintenance database and dropped at its end, so tests
// run in parallel and leave nothing behind; the machine's server is shared and never reconfigured.

/** The server tests create their databases on: `B24_TEST_DATABASE_URL`, or the local one as `postgres`. */
export const TEST_DATABASE_URL = process.env.B24_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** Runs one statement on the maintenance database (`TEST_DATABASE_URL`), on a connection of its own. */
export async function adminQuery<T extends object = Record<string, unknown>>(text: string, values: unknown[] = [], url = TEST_DATABASE_URL): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(text, values)).rows
  } finally {
    await client.end()
  }
}

/**
 * Creates an empty database with a random name (`b24_test_<hex>`) and returns its connection
 * string; it is dropped at the end of the test (`WITH (FORCE)`: whatever is still connected to it,
 * a store not closed or a child process, is disconnected). For store tests and process-level ones alike.
 */
export async function testDatabase(t: Test): Promise<string> {
  const name = `b24_test_${randomBytes(6).toString('hex')}`
  await adminQuery(`CREATE DATABASE ${name}`)
  t.teardown(() => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  return withDatabase(TEST_DATABASE_URL, name)
}

/** `url` with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** `url` pointing at another host and port (a {@link TcpProxy} in front of the server). */
export function withAddress(url: string, host: string, port: number): string {
  const parsed = new URL(url)
  parsed.hostname = host
  parsed.port = String(port)
  return parsed.toString()
}

/**
 * A TCP proxy in front of the test server (see test/fakes/tcp-proxy.ts), closed at the end of the
 * test, and `url` rewritten to go through it: `cut()` makes PostgreSQL unreachable, `restore()` brings it back.
 */
export async function proxied(t: Test, url: string): Promise<{ proxy: TcpProxy; url: string }> {
  const parsed = new URL(url)
  const proxy = await startTcpProxy({ host: parsed.hostname, port: Number(parsed.port || 5432) })
  t.teardown(() => proxy.close())
  return { proxy, url: withAddress(url, '127.0.0.1', proxy.port) }
}

/** A PostgreSQL store, with the connection string it uses. */
export type PgStore = Store & { connectionString: string }

let opened = 0

/**
 * A PostgreSQL store on a fresh database (or `options.connectionString`: another replica on the
 * same database; `replica` names its claims and its announcements: a name of its own by default,
 * as each replica has), closed at the end of the test unless the test closed it. Nothing is
 * connected before its first call, as in the service.
 */
export async function openPgStore(t: Test, { replica = `replica-${++opened}`, ...options }: Partial<PostgresStoreOptions> & { replica?: string } = {}): Promise<PgStore> {
  const connectionString = options.connectionString ?? (await testDatabase(t))
  const store = openPostgresStore({ ...options, connectionString }, replica)
  let closed = false
  const close = store.close.bind(store)
  // Every call still reaches the store's own close: only the teardown is spared a second one.
  store.close = async () => {
    closed = true
    return close()
  }
  t.teardown(() => (closed ? undefined : close()))
  return Object.assign(store, { connectionString })
}

/** Runs one statement on a test database (as an operator's psql would), on a connection of its own. */
export const sql = <T extends object = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> => adminQuery<T>(text, values, url)

/** The database's clock, in epoch ms: what claims, leases and due times are measured by. */
export const dbNow = async (url: string): Promise<number> =>
  Number((await sql<{ now: string }>(url, 'SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint AS now'))[0]?.now)

/** How many sessions on the database at `url` are listening for new events (a store's listener each). */
export const listening = async (url: string): Promise<number> =>
  Number((await sql<{ n: string }>(url, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN b24_inbox' AND state = 'idle'"))[0]?.n)

/** A connection of its own listening on the store's channel, as a replica's listener does; what it heard, counted. Closed at the end of `t`. */
export async function eavesdrop(t: Test, url: string): Promise<{ heard: () => number; payloads: () => string[] }> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  t.teardown(() => client.end())
  const payloads: string[] = []
  client.on('notification', (message) => void payloads.push(message.payload ?? ''))
  await client.query('LISTEN b24_inbox')
  return { heard: () => payloads.length, payloads: () => [...payloads] }
}
