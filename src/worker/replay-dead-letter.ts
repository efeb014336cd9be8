import type { Store } from '../store/store.ts'
import type { FormLimits } from '../wire/parse-form.ts'
import { decodeRecord } from './decode-record.ts'

export type ReplayResult = { id: number; replayed: true } | { id: number; replayed: false; reason: string }

/**
 * Puts a dead letter back in line, its wire as it was stored: the worker decodes it again. One
 * that failed to decode is tried first (after a fix of the decoder, or raised `formLimits`): if
 * it still fails, it stays dead and the reason is given.
 */
export async function replayDeadLetter(store: Pick<Store, 'deadLetters'>, id: number, formLimits?: Partial<FormLimits>): Promise<ReplayResult> {
  const record = await store.deadLetters.record(id)
  if (!record) return { id, replayed: false, reason: 'no dead letter with this id' }
  try {
    // The data alone decides whether it decodes; its credentials stay sealed.
    decodeRecord({ ...record, credentials: null }, undefined, formLimits)
  } catch (error) {
    // Off its schema still, or a body that no decoder can read.
    return { id, replayed: false, reason: (error as Error).message }
  }
  await store.deadLetters.revive(id)
  return { id, replayed: true }
}
