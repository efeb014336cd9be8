import { ConfigError, ReceiverError } from '../errors.ts'
import { rotateKeys, RotationUnfinishedError, unfinishedReason, type ColumnCount } from '../seal/rotate-keys.ts'
import { createSealer } from '../seal/sealer.ts'
import { loadConfig, type ServiceConfig } from '../service/load-config.ts'
import { openServiceStore } from '../service/service-store.ts'
import { PostgresDatabase } from '../store/postgres/postgres-database.ts'
import { PostgresSealedValues } from '../store/postgres/postgres-sealed-values.ts'
import { SEALED_COLUMNS, type SealedColumn, type SealedValues } from '../store/sealed-values.ts'
import { openDatabase } from '../store/sqlite/open-database.ts'
import { SqliteSealedValues } from '../store/sqlite/sqlite-sealed-values.ts'
import type { CommandIo } from './io.ts'

class KeysUsageError extends ReceiverError {
  constructor(message: string) {
    super('BAD_ARGUMENTS', 400, message)
  }
}

const USAGE = 'usage: b24-receiver keys rotate [--batch-size N]'

/** What each column is called in what the command prints. */
const NAMES: Record<SealedColumn, string> = {
  pendingInstalls: 'pending installs (tokens)',
  pendingEvents: 'events of pending installs (credentials)',
  portals: 'portals (tokens)',
  inbox: 'inbox and dead letters (credentials)',
}

/** How often a pass says how far it is, at most. */
const PROGRESS_EVERY_MS = 1000

/**
 * `b24-receiver keys rotate`: seals every stored credential and portal token again under
 * `B24_SECRET_KEY`, opening them with it or a key of `B24_SECRET_KEY_PREVIOUS`, in the store under
 * `DATA_DIR` or at `DATABASE_URL`, with the service (its replicas) running: see
 * ../seal/rotate-keys.ts. Prints its progress and the counts; stopped anywhere (even by kill -9),
 * it is run again and finishes. Exit 0 once the store is marked sealed under the new key (the
 * previous keys may then be dropped), 1 when something is left under an old key (said why).
 */
export async function keys(args: string[], io: CommandIo): Promise<number> {
  const [action, ...rest] = args
  if (action !== 'rotate') throw new KeysUsageError(USAGE)
  const batchSize = batchSizeOf(rest)
  const config = loadConfig(io.env)
  const { secretKey, previousSecretKeys } = config.receiver
  if (secretKey === undefined) throw new ConfigError('keys rotate needs B24_SECRET_KEY, the new key (and the old one(s) in B24_SECRET_KEY_PREVIOUS)')
  const keyring = [secretKey as Buffer, ...((previousSecretKeys ?? []) as Buffer[])]
  const sealer = createSealer(keyring[0] as Buffer, { previous: keyring.slice(1) })
  const store = openServiceStore(config)
  let values: { values: SealedValues; close: () => Promise<void> } | undefined
  try {
    values = sealedValues(config)
    let shown = 0
    const rotation = await rotateKeys({
      store,
      values: values.values,
      sealer,
      keys: keyring,
      batchSize,
      progress: (column, count, pass) => {
        const now = Date.now()
        if (now - shown < PROGRESS_EVERY_MS) return
        shown = now
        io.stdout.write(`pass ${pass}: ${NAMES[column]}: ${describe(count)}\n`)
      },
    })
    for (const column of SEALED_COLUMNS) io.stdout.write(`${NAMES[column]}: ${describe(rotation.columns[column])}\n`)
    const resealed = SEALED_COLUMNS.reduce((sum, column) => sum + rotation.columns[column].resealed, 0)
    io.stdout.write(`sealed again under B24_SECRET_KEY: ${resealed} value(s), in ${rotation.passes} passes\n`)
    if (!rotation.done) throw new RotationUnfinishedError(unfinishedReason(rotation.late, SEALED_COLUMNS.reduce((sum, column) => sum + rotation.columns[column].unreadable, 0)))
    io.stdout.write('the store is sealed under B24_SECRET_KEY: B24_SECRET_KEY_PREVIOUS can be dropped (restart each replica without it)\n')
    return 0
  } finally {
    await values?.close()
    await store.close()
  }
}

function describe(count: ColumnCount): string {
  return `${count.seen} looked at, ${count.resealed} sealed again, ${count.changed} changed meanwhile (left as a replica wrote them), ${count.unreadable} opened by no key`
}

function batchSizeOf(rest: string[]): number {
  if (rest.length === 0) return 100
  const [flag, value, ...more] = rest
  const size = Number(value)
  if (flag !== '--batch-size' || more.length > 0 || !/^\d+$/.test(value ?? '') || size < 1 || size > 10000) throw new KeysUsageError(`--batch-size takes 1 to 10000 (${USAGE})`)
  return size
}

/** The store's sealed values, on a connection of their own (the service may be running). */
function sealedValues(config: ServiceConfig): { values: SealedValues; close: () => Promise<void> } {
  if (config.databaseUrl === null) {
    const db = openDatabase(config.dataDir, config.durability)
    return { values: new SqliteSealedValues(db), close: async () => void db.close() }
  }
  const db = new PostgresDatabase({ connectionString: config.databaseUrl })
  return { values: new PostgresSealedValues(db), close: () => db.end() }
}
