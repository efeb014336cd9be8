import t from 'tap'
import { ConfigError } from '../../src/config/config-error.ts'
import { loadConfig } from '../../src/config/load-config.ts'

t.test('runs on a fresh clone with no environment at all', async (t) => {
  const config = loadConfig({}, '/srv/app')
  t.same(config, {
    port: 3000,
    host: '127.0.0.1',
    appTokens: [],
    dataDir: '/srv/app/data',
    eventsFile: null,
    logLevel: 'info',
    logPretty: false,
    bodyLimit: 1048576,
    shutdownTimeoutMs: 10000,
    inbox: { durability: 'process', dedupWindowMs: 86400000 },
    worker: { concurrency: 8, handlerTimeoutMs: 30000, maxAttempts: 8, retryBaseMs: 1000, retryMaxMs: 300000 },
    rest: { webhook: null, botId: null, botToken: null, timeoutMs: 30000 },
    poll: { mode: null, withUserEvents: false, limit: 100, busyMs: 2000, idleMs: 10000 },
    exampleBot: false,
  })
})

t.test('reads every pinned variable', async (t) => {
  const config = loadConfig(
    {
      PORT: '8080', HOST: '0.0.0.0', B24_APP_TOKENS: ' abc , 61fe:def ,, ', DATA_DIR: '/var/b24', EVENTS_FILE: 'events.jsonl', LOG_LEVEL: 'debug', LOG_PRETTY: '1',
      BODY_LIMIT: '2048', SHUTDOWN_TIMEOUT_MS: '500', B24_POLL: 'imbot', B24_REST_URL: 'https://p.bitrix24.com/rest/1/x/', B24_BOT_ID: '456', B24_BOT_TOKEN: 'bt',
      B24_POLL_WITH_USER_EVENTS: 'true', B24_POLL_LIMIT: '50', B24_POLL_BUSY_MS: '2500', B24_POLL_IDLE_MS: '5000', UNRELATED: 'x',
      B24_REST_TIMEOUT_MS: '900', EXAMPLE_BOT: 'true', INBOX_DURABILITY: 'power', DEDUP_WINDOW_MS: '1000', WORKER_CONCURRENCY: '2', HANDLER_TIMEOUT_MS: '500', MAX_ATTEMPTS: '3', RETRY_BASE_MS: '10', RETRY_MAX_MS: '100',
    },
    '/srv/app',
  )
  t.match(config, { port: 8080, host: '0.0.0.0', appTokens: ['abc', '61fe:def'], dataDir: '/var/b24', eventsFile: '/srv/app/events.jsonl', logLevel: 'debug', logPretty: true, bodyLimit: 2048, shutdownTimeoutMs: 500 })
  t.same(config.inbox, { durability: 'power', dedupWindowMs: 1000 })
  t.same(config.worker, { concurrency: 2, handlerTimeoutMs: 500, maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 100 })
  t.same(config.rest, { webhook: { kind: 'webhook', baseUrl: 'https://p.bitrix24.com/rest/1/x/', domain: 'p.bitrix24.com', userId: 1 }, botId: 456, botToken: 'bt', timeoutMs: 900 })
  t.same(config.poll, { mode: 'imbot', withUserEvents: true, limit: 50, busyMs: 2500, idleMs: 5000 })
  t.equal(config.exampleBot, true)
  t.equal(loadConfig({ B24_POLL_WITH_USER_EVENTS: '0' }).poll.withUserEvents, false)
  t.equal(loadConfig({ PORT: '' }).port, 3000, 'an empty value is unset')
})

t.test('stops the start on a bad value, naming each variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), new ConfigError('invalid environment: PORT must be integer'))
  t.throws(() => loadConfig({ PORT: '70000', B24_POLL_LIMIT: '5000', B24_POLL: 'yes', LOG_LEVEL: 'loud', B24_POLL_WITH_USER_EVENTS: 'maybe' }), {
    name: 'ConfigError',
    message: /PORT must be <= 65535; LOG_LEVEL must be "fatal" or .*; B24_POLL must be "" or "im" or "imbot"; B24_POLL_WITH_USER_EVENTS must be boolean; B24_POLL_LIMIT must be <= 1000/,
  })
  t.throws(() => loadConfig({ B24_BOT_ID: 'bot' }), /B24_BOT_ID must be integer or ""/)
})

t.test('refuses a poller it could not run', async (t) => {
  const url = 'https://p.bitrix24.com/rest/1/s3cr3t/'
  t.throws(() => loadConfig({ B24_POLL: 'im' }), new ConfigError('B24_POLL=im needs B24_REST_URL, the inbound webhook to poll through'))
  t.throws(() => loadConfig({ B24_POLL: 'imbot', B24_REST_URL: url, B24_BOT_ID: '456' }), new ConfigError('B24_POLL=imbot needs B24_BOT_ID and B24_BOT_TOKEN'))
  t.throws(() => loadConfig({ B24_POLL: 'imbot', B24_REST_URL: url, B24_BOT_TOKEN: 'bt' }), /needs B24_BOT_ID/)
  t.throws(() => loadConfig({ B24_REST_URL: 'https://p.bitrix24.com/s3cr3t' }), { name: 'ConfigError', message: /^B24_REST_URL must look like https:\/\/PORTAL\/rest\/USER_ID\/SECRET\/ \(got https:\/\/p.bitrix24.com\/…\)$/ })
  t.equal(loadConfig({ B24_POLL: 'im', B24_REST_URL: url }).poll.mode, 'im')
})
