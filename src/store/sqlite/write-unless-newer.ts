import { NewerFormatError } from '../newer-format-error.ts'
import type { GroupCommit } from './group-commit.ts'

/**
 * Runs `write` in the group commit, where it looks at the rows it would change before it changes
 * any (`refuseNewer`): a row a newer version wrote stops it, and only it, with nothing written.
 * The refusal is taken out of the commit and thrown here: thrown inside, it would fail the whole
 * commit, the events appended in it too.
 * @throws {NewerFormatError} when `write` met a row of a newer format.
 */
export async function writeUnlessNewer<T>(writer: GroupCommit, write: () => T): Promise<T> {
  const outcome = await writer.write(() => {
    try {
      return { done: write() }
    } catch (error) {
      if (error instanceof NewerFormatError) return { refused: error }
      throw error
    }
  })
  if ('refused' in outcome) throw outcome.refused
  return outcome.done
}
