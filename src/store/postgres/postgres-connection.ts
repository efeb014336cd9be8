/**
 * Where and how the PostgreSQL store connects. In a file of its own: the package's types name it
 * (in `postgresStore`'s options), and must not pull in pg's (a user's project may have none).
 */
export interface PostgresConnection {
  /** `postgres://user:password@host:port/database`: never logged, never in an error message. */
  connectionString: string
  /** Connections in the pool; 10. */
  poolSize?: number
  /** How long connecting or one query may take before the store counts as unavailable; 5 s. */
  timeoutMs?: number
}
