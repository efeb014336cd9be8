import { loadConfig } from '../config/load-config.ts'
import { ReceiverError } from '../errors.ts'
import type { Inbox } from '../inbox/inbox.ts'
import { openInbox } from '../inbox/open-inbox.ts'
import { replayDeadLetter, type ReplayResult } from '../inbox/replay-dead-letter.ts'
import type { CommandIo } from './io.ts'

class DlqUsageError extends ReceiverError {
  constructor(message: string) {
    super('BAD_ARGUMENTS', 400, message)
  }
}

const USAGE = 'usage: b24-receiver dlq list | show ID | replay ID|--all | drop ID'

/**
 * `b24-receiver dlq`: the dead letter of the inbox under `DATA_DIR`, on a stopped or a running
 * service (SQLite lets both in; a running worker picks replayed events up within a second).
 * Never prints credentials.
 */
export async function dlq(args: string[], io: CommandIo): Promise<number> {
  const [action, target] = args
  const config = loadConfig(io.env)
  const inbox = openInbox(config)
  try {
    switch (action) {
      case 'list':
        return list(inbox, io)
      case 'show': {
        const letter = inbox.deadLetter(idOf(target))
        if (!letter) throw new DlqUsageError(`no dead letter ${target}`)
        io.stdout.write(JSON.stringify(letter, null, 2) + '\n')
        return 0
      }
      case 'replay': {
        const ids = target === '--all' ? inbox.deadLetters().map((letter) => letter.id) : [idOf(target)]
        const results = ids.map((id) => replayDeadLetter(inbox, id))
        for (const result of results) io.stdout.write(describe(result) + '\n')
        return results.every((result) => result.replayed) ? 0 : 1
      }
      case 'drop': {
        const id = idOf(target)
        if (!inbox.drop(id)) throw new DlqUsageError(`no dead letter ${id}`)
        io.stdout.write(`dropped ${id}\n`)
        return 0
      }
      default:
        throw new DlqUsageError(USAGE)
    }
  } finally {
    inbox.close()
  }
}

function idOf(text: string | undefined): number {
  if (!text || !/^[1-9][0-9]{0,15}$/.test(text)) throw new DlqUsageError(`give a dead letter id (${USAGE})`)
  return Number(text)
}

function list(inbox: Inbox, io: CommandIo): number {
  const letters = inbox.deadLetters()
  if (letters.length === 0) io.stdout.write('the dead letter is empty\n')
  for (const letter of letters) {
    const error = letter.error.length > 100 ? letter.error.slice(0, 99) + '…' : letter.error
    io.stdout.write(`${letter.id}\t${letter.type}\t${letter.receivedAt}\tattempts ${letter.attempts}\t${letter.portal.domain ?? '-'}\t${error}\n`)
  }
  return 0
}

const describe = (result: ReplayResult) => (result.replayed ? `replayed ${result.id}` : `not replayed ${result.id}: ${result.reason}`)
