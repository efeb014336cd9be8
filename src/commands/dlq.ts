import { describeDuration, parseDuration } from '../duration.ts'
import { ReceiverError } from '../errors.ts'
import { replayDeadLetter, type ReplayResult } from '../worker/replay-dead-letter.ts'
import { withDefaults } from '../receiver/receiver-options.ts'
import { DEFAULT_FORM_LIMITS } from '../wire/parse-form.ts'
import { loadConfig } from '../service/load-config.ts'
import { openServiceStore } from '../service/service-store.ts'
import { DEAD_LETTER_RETENTION_MS, purgeDeadLetters } from '../store/retention.ts'
import type { Store } from '../store/store.ts'
import type { CommandIo } from './io.ts'

class DlqUsageError extends ReceiverError {
  constructor(message: string) {
    super('BAD_ARGUMENTS', 400, message)
  }
}

const USAGE = 'usage: b24-receiver dlq list [--json] | show ID | replay ID|--all | drop ID | purge [--older-than DURATION]'

/**
 * `b24-receiver dlq`: the dead letter of the inbox under `DATA_DIR`, or of the shared one at
 * `DATABASE_URL`, on a stopped or a running service (a running worker picks replayed events up
 * within a second).
 * `purge` drops the dead letters whose last attempt is older than `--older-than` (`30d`, `12h`,
 * `90m`), by default `DLQ_RETENTION_DAYS` (what the service drops by itself).
 * Never prints credentials.
 */
export async function dlq(args: string[], io: CommandIo): Promise<number> {
  const [action, target] = args
  const config = loadConfig(io.env)
  // Read before the store opens: a bad duration is refused without touching it.
  const olderThanMs = action === 'purge' ? olderThan(args.slice(1), config.deadLetterRetentionMs ?? DEAD_LETTER_RETENTION_MS) : 0
  const { receiver } = config
  const store = openServiceStore(config)
  try {
    switch (action) {
      case 'list':
        return await list(store, io, target === '--json')
      case 'show': {
        const letter = await store.deadLetters.get(idOf(target))
        if (!letter) throw new DlqUsageError(`no dead letter ${target}`)
        io.stdout.write(JSON.stringify(letter, null, 2) + '\n')
        return 0
      }
      case 'replay': {
        const ids = target === '--all' ? (await store.deadLetters.list()).map((letter) => letter.id) : [idOf(target)]
        const results = []
        for (const id of ids) results.push(await replayDeadLetter(store, id, withDefaults(DEFAULT_FORM_LIMITS, receiver.formLimits)))
        for (const result of results) io.stdout.write(describe(result) + '\n')
        // Silence would leave the user wondering whether anything ran.
        if (results.length === 0) io.stdout.write('the dead letter is empty: nothing to replay\n')
        return results.every((result) => result.replayed) ? 0 : 1
      }
      case 'drop': {
        const id = idOf(target)
        if (!(await store.deadLetters.drop(id))) throw new DlqUsageError(`no dead letter ${id}`)
        io.stdout.write(`dropped ${id}\n`)
        return 0
      }
      case 'purge': {
        const dropped = await purgeDeadLetters(store.deadLetters, Date.now() - olderThanMs)
        io.stdout.write(`dropped ${dropped} dead letter${dropped === 1 ? '' : 's'} older than ${describeDuration(olderThanMs)}\n`)
        return 0
      }
      default:
        throw new DlqUsageError(USAGE)
    }
  } finally {
    await store.close()
  }
}

/** `purge`'s arguments: `--older-than DURATION` (or `=DURATION`), else `retentionMs`. Never echoes what was given. */
function olderThan(args: string[], retentionMs: number): number {
  if (args.length === 0) return retentionMs
  const [flag, value, ...rest] = args[0]?.startsWith('--older-than=') ? ['--older-than', args[0].slice('--older-than='.length), ...args.slice(1)] : args
  if (flag !== '--older-than' || rest.length > 0) throw new DlqUsageError(USAGE)
  const ms = value === undefined ? null : parseDuration(value)
  if (ms === null) throw new DlqUsageError('--older-than takes a whole number of days, hours or minutes: 30d, 12h, 90m')
  return ms
}

function idOf(text: string | undefined): number {
  if (!text || !/^[1-9][0-9]{0,15}$/.test(text)) throw new DlqUsageError(`give a dead letter id (${USAGE})`)
  return Number(text)
}

async function list(store: Store, io: CommandIo, json: boolean): Promise<number> {
  const letters = await store.deadLetters.list()
  if (json) {
    for (const { id, type, receivedAt, attempts, portal, error } of letters) io.stdout.write(JSON.stringify({ id, type, receivedAt, attempts, portal, error }) + '\n')
    return 0
  }
  if (letters.length === 0) io.stdout.write('the dead letter is empty\n')
  for (const letter of letters) {
    const error = letter.error.length > 100 ? letter.error.slice(0, 99) + '…' : letter.error
    io.stdout.write(`${letter.id}\t${letter.type}\t${letter.receivedAt}\tattempts ${letter.attempts}\t${letter.portal.domain ?? '-'}\t${error}\n`)
  }
  return 0
}

const describe = (result: ReplayResult) => (result.replayed ? `replayed ${result.id}` : `not replayed ${result.id}: ${result.reason}`)
