import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

// The thread's whole program: its own connection, a passive checkpoint now and then. Passive: it
// copies what no reader still needs and never waits for a lock, so writers go on meanwhile.
const PROGRAM = `
const { workerData, parentPort } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.path)
db.pragma('busy_timeout = 0')
const timer = setInterval(() => { try { db.pragma('wal_checkpoint(PASSIVE)') } catch {} }, workerData.intervalMs)
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close() })
`

/** A thread that checkpoints the WAL; `stop` ends it. */
export interface Checkpointer {
  stop(): Promise<void>
}

/**
 * Moves WAL checkpoints off the event loop: a checkpoint copies megabytes into the database and
 * fsyncs it, which in the committing connection (SQLite's automatic checkpoint) stalls every
 * request of that moment. With this thread checkpointing every `intervalMs`, the automatic one is
 * only a safety net.
 */
export function startCheckpointer(path: string, intervalMs: number): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const thread = new Worker(PROGRAM, { eval: true, workerData: { driver, path, intervalMs } })
  thread.unref()
  const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()))
  // A thread that failed (the file gone): SQLite's automatic checkpoint still runs.
  thread.on('error', () => undefined)
  return {
    async stop() {
      // Held until it has closed its connection: the last checkpoint at close comes after.
      thread.ref()
      thread.postMessage('stop')
      await exited
    },
  }
}
