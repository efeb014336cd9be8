import { ConfigError, ReceiverError } from '../errors.ts'
import { SEALED_COLUMNS, type Replacement, type SealedColumn, type SealedValue, type SealedValues } from '../store/sealed-values.ts'
import type { Store } from '../store/store.ts'
import { checkOpener, sealCheckAgain } from './check-seal-key.ts'
import { keepDigestKey } from './digest-key.ts'
import { SealError, type KeyringSealer } from './sealer.ts'

/** What one pass over a column found. */
export interface ColumnCount {
  /** Values looked at. */
  seen: number
  /** Sealed again under the current key. */
  resealed: number
  /** Changed or gone before they could be written (a replica completed, refreshed or dropped them): left as they were. */
  changed: number
  /** Opened by none of the keys: left as they were. */
  unreadable: number
}

/** Passes at most: the first, and two that find what was moved or written meanwhile. */
export const MAX_PASSES = 3

/** What {@link rotateKeys} did. */
export interface Rotation {
  /** Each column's counts over every pass. */
  columns: Record<SealedColumn, ColumnCount>
  /** Values under a previous key found by the last pass (sealed again or changed before they could be): written meanwhile by a process that still seals with one. */
  late: number
  /** Passes made: the first, and those after it until one finds nothing left to seal again. */
  passes: number
  /** Whether the store now says it is sealed under the current key (the previous keys may be dropped). */
  done: boolean
}

export interface RotateOptions {
  /** Its meta: the seal check and the digest key. */
  store: Pick<Store, 'meta'>
  values: SealedValues
  /** The current key and the previous ones. */
  sealer: KeyringSealer
  /** The sealer's keys, current first (the digest key is derived from the one that sealed the store). */
  keys: readonly Buffer[]
  /** Rows per batch; 100. */
  batchSize?: number
  /** Told after each batch is written: the column and its counts so far in this pass. */
  progress?: (column: SealedColumn, count: ColumnCount, pass: number) => void | Promise<void>
}

const zero = (): ColumnCount => ({ seen: 0, resealed: 0, changed: 0, unreadable: 0 })

/**
 * Seals every stored sealed value again under the sealer's current key, in small batches, each
 * value only if a previous key sealed it, each written only if its row still holds what was read
 * (whatever a replica did meanwhile stands: nothing is brought back or overwritten). It can stop
 * anywhere (a batch is one transaction) and run again: what is done is skipped. First the
 * store's digest key is kept sealed in the store; then a first pass seals again, and the next
 * ones check until one finds nothing left: values under a previous key still found by the last of
 * {@link MAX_PASSES} were written meanwhile by a process that still seals with one (a replica
 * given only the old key), and the store is not marked. Once nothing is left under a previous key, and
 * nothing is unreadable, the store's seal check is sealed under the current key: replicas
 * started from then on need the current key, and the previous ones may be dropped.
 * @throws {ConfigError} when none of the keys opens the store.
 */
export async function rotateKeys(options: RotateOptions): Promise<Rotation> {
  const { store, values, sealer, keys } = options
  const batchSize = options.batchSize ?? 100
  if ((await checkOpener(store, sealer)) === null && (await store.meta.get('seal.check')) !== null) {
    throw new ConfigError('none of the keys given opens this store: B24_SECRET_KEY is the new key, B24_SECRET_KEY_PREVIOUS the one(s) it is sealed under now')
  }
  await keepDigestKey(store, sealer, keys)
  const columns = Object.fromEntries(SEALED_COLUMNS.map((column) => [column, zero()])) as Record<SealedColumn, ColumnCount>
  let pass = 0
  // Values found under a previous key by the pass, written or not: one a replica changed between
  // the read and the write may be under an old key still (a replica that seals with one).
  let found: number
  let unreadable: number
  do {
    pass++
    found = 0
    unreadable = 0
    for (const column of SEALED_COLUMNS) {
      const count = await rotateColumn(values, sealer, column, batchSize, (count) => options.progress?.(column, count, pass))
      const total = columns[column]
      total.seen += count.seen
      total.resealed += count.resealed
      total.changed += count.changed
      // Counted once: each pass finds the same ones again.
      total.unreadable = count.unreadable
      found += count.resealed + count.changed
      unreadable += count.unreadable
    }
    // After the first pass, a value found under a previous key was written (or moved) under one meanwhile: one more pass, to see that none is left.
  } while (pass < MAX_PASSES && (pass === 1 || found > 0))
  // The loop ends after two passes at least: what the last one found was written meanwhile.
  const late = found
  const done = late === 0 && unreadable === 0
  if (done) await sealCheckAgain(store, sealer)
  return { columns, late, passes: pass, done }
}

async function rotateColumn(values: SealedValues, sealer: KeyringSealer, column: SealedColumn, batchSize: number, progress: (count: ColumnCount) => void | Promise<void>): Promise<ColumnCount> {
  const count = zero()
  let after: number | string | null = null
  for (;;) {
    const page = await values.page(column, after, batchSize)
    if (page.length === 0) return count
    const replacements: Replacement[] = []
    for (const { key, value } of page) {
      let again: string | null
      try {
        again = sealer.reseal(value)
      } catch (error) {
        if (!(error instanceof SealError)) throw error
        count.unreadable++
        continue
      }
      if (again !== null) replacements.push({ key, from: value, value: again })
    }
    const written = replacements.length === 0 ? 0 : await values.replace(column, replacements)
    count.seen += page.length
    count.resealed += written
    count.changed += replacements.length - written
    after = (page[page.length - 1] as SealedValue).key
    await progress(count)
  }
}

/** `keys rotate` could not mark the store: what is left under a previous key, and why. */
export class RotationUnfinishedError extends ReceiverError {
  constructor(message: string) {
    super('ROTATION_UNFINISHED', 409, message)
  }
}

/** Why a rotation left the store unmarked (`late` values written under a previous key while it ran, `unreadable` opened by no key), and what to do. */
export function unfinishedReason(late: number, unreadable: number): string {
  const reasons = []
  if (late > 0) {
    reasons.push(
      `${late} value(s) sealed under a previous key were written while it ran: a replica still seals with an old key; give every replica B24_SECRET_KEY (the new key) and B24_SECRET_KEY_PREVIOUS (the old ones), restart them, then run keys rotate again`,
    )
  }
  if (unreadable > 0) reasons.push(`${unreadable} value(s) open with none of the keys given: add the key that sealed them to B24_SECRET_KEY_PREVIOUS and run keys rotate again (they are left as they are)`)
  return `the store is not marked sealed under B24_SECRET_KEY, keep B24_SECRET_KEY_PREVIOUS: ${reasons.join('; ')}`
}
