import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'

/**
 * Every place a token can hide in what might be logged: `auth` blocks (top level and the bot's),
 * token fields, credentials, and request headers that carry them. pino replaces them with
 * `[redacted]` whatever the log call passed.
 */
export const REDACTED_PATHS = [
  'auth',
  '*.auth',
  '*.*.auth',
  'data.bot.auth',
  '*.data.bot.auth',
  'credentials',
  '*.credentials',
  'access_token',
  '*.access_token',
  'refresh_token',
  '*.refresh_token',
  'application_token',
  '*.application_token',
  'token',
  '*.token',
  'body',
  '*.body',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
]

export interface LoggerSettings {
  level: string
  /** Human-readable lines (pino-pretty) for development; JSON lines otherwise. */
  pretty?: boolean
}

/** The service's logger: JSON lines, tokens redacted, pretty in development. */
export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'b24-receiver' },
  }
  if (settings.pretty && !destination) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'service,pid,hostname' } } })
  }
  // stdout written asynchronously: a line waits for no disk or pipe (the service flushes at close).
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }))
}
