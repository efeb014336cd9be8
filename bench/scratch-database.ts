// A PostgreSQL database of its own for one benchmark run: created through BENCH_DATABASE_URL (the
// local server's `postgres` database by default), dropped afterwards even with replicas still
// connected, so that no run reads or leaves another's rows.
import pg from 'pg'

/** The database the benchmarks create theirs through (and read `pg_stat_database` on). */
export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** Runs `work` with a fresh database's URL, its name, and a connection to ADMIN_URL's database (not the new one's: what it reads is not counted there). */
export async function withScratchDatabase<T>(prefix: string, work: (url: string, name: string, admin: pg.Client) => Promise<T>): Promise<T> {
  const name = `${prefix}_${process.pid}_${Date.now()}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name}`)
    const url = new URL(ADMIN_URL)
    url.pathname = `/${name}`
    return await work(url.href, name, admin)
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  }
}
