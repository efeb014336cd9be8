import { ConfigError, ReceiverError } from './errors.ts'
import { decode } from './commands/decode.ts'
import { dlq } from './commands/dlq.ts'
import { encode } from './commands/encode.ts'
import { fakePortal } from './commands/fake-portal.ts'
import { keys } from './commands/keys.ts'
import { portals } from './commands/portals.ts'
import { serve } from './commands/serve.ts'
import { simulate } from './commands/simulate.ts'
import type { CommandIo } from './commands/io.ts'

type Command = (args: string[], io: CommandIo) => Promise<number>

const COMMANDS: Record<string, Command> = { serve, simulate, decode, encode, dlq, portals, keys, 'fake-portal': fakePortal }

const USAGE = `usage: b24-receiver <command>
  serve    run the service (PORT, HOST, B24_APP_TOKENS, DATA_DIR… see .env.example)
  simulate TYPE [--text T] [--chat ID] [--user ID] [--portal DOMAIN] [--url URL] [--token TOKEN | --fake-portal URL]
           post a realistic event of TYPE, encoded as Bitrix24 does, and print the reply; with --fake-portal,
           an event of that fake portal (ONAPPINSTALL, ONAPPUPDATE, ONAPPUNINSTALL too)
  decode   stdin: a raw webhook body (form, or JSON); stdout: the normalized event as JSON
  encode   stdin: a JSON webhook payload; stdout: the body Bitrix24 would post for it
  dlq list [--json] | show ID | replay ID|--all | drop ID | purge [--older-than DURATION]
           the dead letter of the inbox under DATA_DIR (the service may be running); purge drops
           what is older than 30d, 12h, 90m… (default DLQ_RETENTION_DAYS)
  portals list [--json] | show MEMBER_ID | forget MEMBER_ID
           application mode: the portals in the store (DATA_DIR, or DATABASE_URL), never a token
  keys rotate [--batch-size N]
           seal stored credentials and portal tokens again under B24_SECRET_KEY (the old keys in
           B24_SECRET_KEY_PREVIOUS); resumable, with the service (its replicas) running
  fake-portal [--port N]
           development tool: stand-in portals and OAuth server on 127.0.0.1 (port 3101), to try application mode`

/**
 * Runs one CLI command and returns its exit code: 0 done, 1 bad input (one line on stderr,
 * never a value from the input), 2 usage.
 */
export async function runCli(argv: string[], io: CommandIo): Promise<number> {
  const [name, ...args] = argv
  const command = name === undefined ? undefined : COMMANDS[name]
  if (!command || !Object.hasOwn(COMMANDS, name as string)) {
    io.stderr.write(`${name === undefined ? '' : `b24-receiver: unknown command '${name}'\n`}${USAGE}\n`)
    return 2
  }
  // A reader that went away (`… | head -1`) is no error of ours: the rest of the output is
  // dropped, as Unix tools do; any other failure to write is one line, never a stack trace.
  io.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') io.stderr.write(`b24-receiver ${name}: cannot write the output: ${error.message}\n`)
  })
  try {
    return await command(args, io)
  } catch (error) {
    if (!(error instanceof ReceiverError || error instanceof ConfigError)) throw error
    io.stderr.write(`b24-receiver ${name}: ${error.message}\n`)
    return 1
  }
}
