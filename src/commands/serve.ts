import { startServer } from '../service/start-server.ts'
import type { CommandIo } from './io.ts'

/** `b24-receiver serve` (what `npm start` runs): runs until SIGINT or SIGTERM, then closes gracefully. */
export async function serve(_args: string[], io: CommandIo): Promise<number> {
  const server = await startServer(io.env)
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      void server.close().then(resolve)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  return 0
}
