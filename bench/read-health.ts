// The service's figures read the way an operator reads them: GET /health (`inbox.depth` is the
// events stored and not yet handled; `inbox` is null while the store is unavailable).
import type { Health } from '../src/index.ts'

/** What GET /health of the service at `url` answers. */
export async function readHealth(url: string): Promise<Health> {
  const response = await fetch(`${url}/health`)
  if (!response.ok) throw new Error(`GET ${url}/health: ${response.status}`)
  return (await response.json()) as Health
}
