import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

// The thread's whole program: its own connection; every tick a passive checkpoint, then, in a
// database made with auto_vacuum = INCREMENTAL, a few free pages beyond the reserve given back.
// Both never wait for a lock (busy_timeout 0): a tick that finds the writer busy skips its step,
// the next one takes it.
const PROGRAM = `
const { workerData, parentPort } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.path)
db.pragma('busy_timeout = 0')
const incremental = db.pragma('auto_vacuum', { simple: true }) === 2
const shrink = () => {
  const free = db.pragma('freelist_count', { simple: true })
  const used = db.pragma('page_count', { simple: true }) - free
  const excess = free - Math.max(workerData.reservePages, Math.floor(used / 4))
  if (excess > 0) db.exec('PRAGMA incremental_vacuum(' + Math.min(excess, workerData.stepPages) + ')')
}
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)') } catch {}
  if (incremental) try { shrink() } catch {}
}, workerData.intervalMs)
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close() })
`

/** How the upkeep thread paces itself. */
export interface UpkeepOptions {
  /** How often it checkpoints the WAL and gives back free pages, ms. */
  intervalMs: number
  /** Free pages kept for the inserts to come (a quarter of the used ones when that is more): a steady load reuses them, none are given back and taken again. */
  reservePages: number
  /** Most free pages given back per tick: each step holds the write lock for a moment only. */
  stepPages: number
}

/** A thread that keeps the database file in shape; `stop` ends it. */
export interface Upkeep {
  stop(): Promise<void>
}

/**
 * Moves the database file's upkeep off the event loop. WAL checkpoints: a checkpoint copies
 * megabytes into the database and fsyncs it, which in the committing connection (SQLite's
 * automatic checkpoint) stalls every request of that moment; with this thread checkpointing every
 * `intervalMs`, the automatic one is only a safety net. Free pages: after a backlog is handled
 * (an outage's events, a burst), the pages its rows held are free; a database made with
 * auto_vacuum = INCREMENTAL (every one this release creates: open-database.ts) gives the excess
 * back to the file system a step at a time, so the file shrinks to what a steady load needs.
 */
export function startUpkeep(path: string, options: UpkeepOptions): Upkeep {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3')
  const thread = new Worker(PROGRAM, { eval: true, workerData: { driver, path, ...options } })
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
