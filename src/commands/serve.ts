import { startServer } from '../service/start-server.ts'
import type { CommandIo } from './io.ts'
import { untilStopped } from './until-stopped.ts'

/** `b24-receiver serve` (what `npm start` runs): runs until SIGINT or SIGTERM, then closes gracefully. */
export async function serve(_args: string[], io: CommandIo): Promise<number> {
  const server = await startServer(io.env)
  await untilStopped(() => server.close())
  return 0
}
