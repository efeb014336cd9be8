import type pg from 'pg'

/**
 * Runs `work` on a connection taken from the pool, and gives it back. A connection lost while
 * taken out also says so with an `error` event, which would crash the process unheard: the
 * query it broke rejects, and says why; the pool drops the connection when it comes back.
 */
export async function checkedOut<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  const ignore = () => undefined
  client.on('error', ignore)
  try {
    return await work(client)
  } finally {
    client.off('error', ignore)
    client.release()
  }
}
