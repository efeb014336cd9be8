import type { Database, Statement } from 'better-sqlite3'
import { isNewer, STORED_FORMAT } from '../format.ts'
import { refuseNewer } from '../newer-format-error.ts'
import type { Leases } from '../store.ts'
import type { GroupCommit } from './group-commit.ts'
import { writeUnlessNewer } from './write-unless-newer.ts'

/**
 * The SQLite store's leases (table `leases`). A lease a newer version wrote is not taken or
 * renewed (a {@link NewerFormatError}); nobody is named as its holder; it is not given up.
 */
export class SqliteLeases implements Leases {
  readonly #writer: GroupCommit
  readonly #sql: Record<'holder' | 'lease' | 'unlease', Statement>
  /** The leases this process holds (name and owner): one under our own pid but not here is a previous life's. */
  readonly #held = new Set<string>()

  constructor(db: Database, writer: GroupCommit) {
    this.#writer = writer
    this.#sql = {
      holder: db.prepare('SELECT owner, pid, expires_at AS expiresAt, format FROM leases WHERE name = ?'),
      lease: db.prepare(
        `INSERT INTO leases (name, owner, pid, expires_at, format) VALUES (@name, @owner, @pid, @expires, ${STORED_FORMAT})
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, expires_at = excluded.expires_at, format = excluded.format`,
      ),
      unlease: db.prepare(`DELETE FROM leases WHERE name = ? AND owner = ? AND format <= ${STORED_FORMAT}`),
    }
  }

  // The database lives on this host, so does every process that holds a lease in it: one that has
  // died (killed, crashed) is known at once, and its lease taken without waiting for it to expire.
  // Our own pid under an owner we do not hold is a process that had it before (a container
  // restarted in place gets the same pid again).
  async lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return writeUnlessNewer(this.#writer, () => {
      const now = Date.now()
      const held = this.#sql.holder.get(name) as { owner: string; pid: number; expiresAt: number; format: number } | undefined
      if (held) refuseNewer(`the lease ${name}`, held.format)
      const alive = held && (held.pid === process.pid ? this.#held.has(`${name}\n${held.owner}`) : isAlive(held.pid))
      if (held && held.owner !== owner && held.expiresAt > now && alive) return false
      this.#sql.lease.run({ name, owner, pid: process.pid, expires: now + ttlMs })
      this.#held.add(`${name}\n${owner}`)
      return true
    })
  }

  async holder(name: string): Promise<string | null> {
    const held = this.#sql.holder.get(name) as { owner: string; expiresAt: number; format: number } | undefined
    return held && held.expiresAt > Date.now() && !isNewer(held.format) ? held.owner : null
  }

  async unlease(name: string, owner: string): Promise<void> {
    await this.#writer.write(() => this.#sql.unlease.run(name, owner))
    this.#held.delete(`${name}\n${owner}`)
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it lives, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
