/**
 * How far a stored event survives in the embedded store: `process` (default) survives a crash or
 * kill of the process (WAL, `synchronous=NORMAL`); `power` also survives a power loss
 * (`synchronous=FULL`, an fsync per group commit). In a file of its own: the package's types
 * name it, and must not pull in better-sqlite3's (a user's project has none).
 */
export type Durability = 'process' | 'power'
