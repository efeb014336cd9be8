import { STORED_FORMAT } from '../format.ts'
import { NewerFormatError } from '../newer-format-error.ts'
import { LEVEL_SLACK, nextSlotInMs, usableOf, type BucketTake, type RestBuckets, type RestRate } from '../rest-buckets.ts'
import { NOW_MS, type PostgresDatabase } from './postgres-database.ts'

// $1 the portal. The bucket drained from `at` to now (the row's `excluded.at`, read once) by $4 a second.
const DRAINED = 'greatest(0, b.level - greatest(0, excluded.at - b.at) * $4::float8 / 1000)'
// $2 calls wanted, $3 the bucket's usable room: as many as fit.
const GRANTED = `greatest(0, least($2::int, floor($3::float8 - ${DRAINED} + ${LEVEL_SLACK})))::int`
const TAKE = `INSERT INTO b24_rest_buckets AS b (portal, level, at, granted, format)
  SELECT $1, least($2::int, floor($3::float8)), now.ms, least($2::int, floor($3::float8)), ${STORED_FORMAT} FROM (SELECT ${NOW_MS} AS ms) now
  ON CONFLICT (portal) DO UPDATE SET level = ${DRAINED} + ${GRANTED}, granted = ${GRANTED}, at = greatest(b.at, excluded.at)
  WHERE b.format <= ${STORED_FORMAT}
  RETURNING level, granted`
// $2 the threshold: the bucket is at least full.
const FILL = `INSERT INTO b24_rest_buckets AS b (portal, level, at, granted, format)
  SELECT $1, $2::float8, ${NOW_MS}, 0, ${STORED_FORMAT}
  ON CONFLICT (portal) DO UPDATE SET level = greatest(excluded.level, greatest(0, b.level - greatest(0, excluded.at - b.at) * $3::float8 / 1000)), granted = 0, at = greatest(b.at, excluded.at)
  WHERE b.format <= ${STORED_FORMAT}`

/**
 * The PostgreSQL store's REST buckets, one row per portal shared by every replica, drained by the
 * database's clock (replicas on several hosts agree on it alone). A take is one statement. They
 * go through the pool that does not wait for the WAL flush: a bucket PostgreSQL loses in a crash
 * only starts again empty, as the portal's will have drained meanwhile.
 */
export class PostgresRestBuckets implements RestBuckets {
  readonly #db: PostgresDatabase

  constructor(db: PostgresDatabase) {
    this.#db = db
  }

  /** @throws {NewerFormatError} when a newer version wrote the portal's bucket (left alone). */
  async take(portal: string, want: number, rate: RestRate): Promise<BucketTake> {
    const [row] = await this.#db.query<{ level: number; granted: number }>(TAKE, [portal, want, usableOf(rate), rate.drainPerSecond], this.#db.unsyncedPool)
    if (!row) {
      // Only a row a newer version wrote changes nothing: the statement inserts or updates any other.
      const [{ format }] = (await this.#db.query<{ format: number }>('SELECT format FROM b24_rest_buckets WHERE portal = $1', [portal])) as [{ format: number }]
      throw new NewerFormatError(`the REST bucket of ${portal}`, format)
    }
    const { level, granted } = row as { level: number; granted: number }
    return { granted, retryInMs: nextSlotInMs(level, rate), level }
  }

  async fill(portal: string, rate: RestRate): Promise<void> {
    // A newer version's bucket is left as it is.
    await this.#db.query(FILL, [portal, rate.threshold, rate.drainPerSecond], this.#db.unsyncedPool)
  }
}
