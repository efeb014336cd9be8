import { readFileSync } from 'node:fs'
import t from 'tap'
import { EnvSchema } from '../../schemas/config.ts'
import { ConfigError } from '../../src/errors.ts'
import { createReceiver } from '../../src/receiver/receiver.ts'
import { loadConfig } from '../../src/service/load-config.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { SECRET_KEY } from '../helpers.ts'

t.test('runs on a fresh clone with no environment at all, leaving the receiver to its defaults', async (t) => {
  const config = loadConfig({}, '/srv/app')
  t.same(config, {
    port: 3000,
    host: '127.0.0.1',
    logLevel: 'info',
    logPretty: false,
    appTokens: [],
    dataDir: '/srv/app/data',
    databaseUrl: null,
    leaseTimeoutMs: undefined,
    durability: undefined,
    dedupWindowMs: undefined,
    deadLetterRetentionMs: undefined,
    exampleBot: false,
    http: { headersTimeoutMs: 10000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 5000 },
    receiver: {
      bodyLimit: undefined,
      formLimits: { maxPairs: undefined, maxDepth: undefined },
      shutdownTimeoutMs: undefined,
      secretKey: undefined,
      eventsFile: undefined,
      worker: { concurrency: undefined, handlerTimeoutMs: undefined, maxAttempts: undefined, retryBaseMs: undefined, retryMaxMs: undefined },
      portalHosts: undefined,
      rest: { url: undefined, botId: undefined, botToken: undefined, timeoutMs: undefined, rate: undefined, portalRates: undefined, operatingLimitSeconds: undefined },
      app: undefined,
      poll: undefined,
    },
  })
})

t.test('reads every pinned variable', async (t) => {
  const config = loadConfig(
    {
      PORT: '8080', HOST: '0.0.0.0', B24_APP_TOKENS: ' abc , 61fe:def ,, ', DATA_DIR: '/var/b24', B24_SECRET_KEY: 'AB'.repeat(32), EVENTS_FILE: 'events.jsonl', LOG_LEVEL: 'debug', LOG_PRETTY: '1',
      BODY_LIMIT: '2048', FORM_MAX_PAIRS: '50000', FORM_MAX_DEPTH: '64', SHUTDOWN_TIMEOUT_MS: '500', B24_POLL: 'imbot', B24_REST_URL: 'https://p.bitrix24.com/rest/1/x/', B24_BOT_ID: '456', B24_BOT_TOKEN: 'bt',
      B24_PORTAL_HOSTS: ' *.example.com , 127.0.0.1 ,, ', B24_POLL_WITH_USER_EVENTS: 'true', B24_POLL_LIMIT: '50', B24_POLL_BUSY_MS: '2500', B24_POLL_IDLE_MS: '5000', UNRELATED: 'x',
      B24_REST_TIMEOUT_MS: '900', B24_REST_RATE: '5/250, Big.example.com=10/500', B24_REST_OPERATING_LIMIT: '300', EXAMPLE_BOT: 'true', DATABASE_URL: 'postgres://b24:pw@db:5432/b24', LEASE_TIMEOUT_MS: '15000', INBOX_DURABILITY: 'power', DEDUP_WINDOW_MS: '1000', DLQ_RETENTION_DAYS: '7', WORKER_CONCURRENCY: '2', HANDLER_TIMEOUT_MS: '500', MAX_ATTEMPTS: '3', RETRY_BASE_MS: '10', RETRY_MAX_MS: '100',
    },
    '/srv/app',
  )
  t.match(config, { port: 8080, host: '0.0.0.0', appTokens: ['abc', '61fe:def'], dataDir: '/var/b24', logLevel: 'debug', logPretty: true, exampleBot: true, databaseUrl: 'postgres://b24:pw@db:5432/b24', leaseTimeoutMs: 15000, durability: 'power', dedupWindowMs: 1000, deadLetterRetentionMs: 7 * 86400000 })
  t.same(config.receiver, {
    secretKey: Buffer.alloc(32, 0xab),
    bodyLimit: 2048,
    formLimits: { maxPairs: 50000, maxDepth: 64 },
    shutdownTimeoutMs: 500,
    eventsFile: '/srv/app/events.jsonl',
    worker: { concurrency: 2, handlerTimeoutMs: 500, maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 100 },
    portalHosts: ['*.example.com', '127.0.0.1'],
    rest: { url: 'https://p.bitrix24.com/rest/1/x/', botId: 456, botToken: 'bt', timeoutMs: 900, rate: { drainPerSecond: 5, threshold: 250 }, portalRates: { 'big.example.com': { drainPerSecond: 10, threshold: 500 } }, operatingLimitSeconds: 300 },
    app: undefined,
    poll: { mode: 'imbot', withUserEvents: true, limit: 50, busyMs: 2500, idleMs: 5000 },
  })
  t.equal(loadConfig({ B24_POLL: 'im', B24_POLL_WITH_USER_EVENTS: '0' }).receiver.poll?.withUserEvents, false)
  t.equal(loadConfig({ PORT: '' }).port, 3000, 'an empty value is unset')
})

t.test('stops the start on a bad value, naming each variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), new ConfigError('invalid environment: PORT must be integer'))
  t.throws(() => loadConfig({ PORT: '70000', B24_POLL_LIMIT: '5000', B24_POLL: 'yes', LOG_LEVEL: 'loud', B24_POLL_WITH_USER_EVENTS: 'maybe' }), {
    name: 'ConfigError',
    message: /PORT must be <= 65535; LOG_LEVEL must be "fatal" or .*; B24_POLL must be "im" or "imbot"; B24_POLL_WITH_USER_EVENTS must be boolean; B24_POLL_LIMIT must be <= 1000/,
  })
  t.throws(() => loadConfig({ B24_BOT_ID: 'bot' }), /B24_BOT_ID must be integer/)
  t.throws(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '40000' }), new ConfigError('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS'))
  t.throws(() => loadConfig({ B24_SECRET_KEY: 'not-a-key' }), { name: 'ConfigError', message: /^B24_SECRET_KEY must be/ })
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://u:hunter2@db/x' }), { name: 'ConfigError', message: /^invalid environment: DATABASE_URL must match pattern/ })
  t.notOk(String((() => { try { loadConfig({ DATABASE_URL: 'mysql://u:hunter2@db/x' }) } catch (error) { return (error as Error).message } })()).includes('hunter2'), 'a password in the URL is never echoed')
  t.throws(() => loadConfig({ LEASE_TIMEOUT_MS: '10' }), /LEASE_TIMEOUT_MS must be >= 1000/)
  t.throws(() => loadConfig({ B24_REST_RATE: '50/2/1' }), { name: 'ConfigError', message: /^B24_REST_RATE must be DRAIN\/THRESHOLD/ })
  t.throws(() => loadConfig({ B24_REST_OPERATING_LIMIT: '0' }), /B24_REST_OPERATING_LIMIT must be >= 1/)
  t.throws(() => loadConfig({ DLQ_RETENTION_DAYS: '0' }), /DLQ_RETENTION_DAYS must be >= 1/)
  t.throws(() => loadConfig({ DLQ_RETENTION_DAYS: '30d' }), /DLQ_RETENTION_DAYS must be integer/)
  t.notOk(String((() => { try { loadConfig({ B24_SECRET_KEY: 'not-a-key' }) } catch (error) { return (error as Error).message } })()).includes('not-a-key'), 'the value is never echoed')
})

t.test('the receiver refuses a poller it could not run, naming the variables', async (t) => {
  const url = 'https://p.bitrix24.com/rest/1/s3cr3t/'
  const receiverOf = (env: Record<string, string>) => createReceiver({ ...loadConfig(env).receiver, tokens: ['tok'], store: new MemoryStore(), secretKey: SECRET_KEY })
  t.throws(() => receiverOf({ B24_POLL: 'im' }), new ConfigError('polling im needs rest.url (B24_REST_URL), the inbound webhook to poll through'))
  t.throws(() => receiverOf({ B24_POLL: 'imbot', B24_REST_URL: url, B24_BOT_ID: '456' }), new ConfigError('polling imbot needs rest.botId and rest.botToken (B24_BOT_ID and B24_BOT_TOKEN)'))
  t.throws(() => receiverOf({ B24_POLL: 'imbot', B24_REST_URL: url, B24_BOT_TOKEN: 'bt' }), /needs rest.botId/)
  t.throws(() => receiverOf({ B24_REST_URL: 'https://p.bitrix24.com/s3cr3t' }), { name: 'ConfigError', message: /^B24_REST_URL must look like https:\/\/PORTAL\/rest\/USER_ID\/SECRET\/ \(got https:\/\/p.bitrix24.com\/…\)$/ })
  t.throws(() => createReceiver({ tokens: [] }), new ConfigError('tokens: give at least one application token (B24_APP_TOKENS)'))
  t.ok(receiverOf({ B24_POLL: 'im', B24_REST_URL: url }))
})

const messageOf = (env: Record<string, string>) => {
  try {
    loadConfig(env)
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('loadConfig did not throw')
}

t.test('application mode: on with B24_CLIENT_ID and B24_CLIENT_SECRET, the OAuth server left to the receiver unless set', async (t) => {
  t.same(loadConfig({ B24_CLIENT_ID: 'local.6650d3f2a1b2c3.12345678', B24_CLIENT_SECRET: ' s3cr3t-cl13nt ' }).receiver.app, {
    clientId: 'local.6650d3f2a1b2c3.12345678',
    clientSecret: 's3cr3t-cl13nt',
    oauthUrl: undefined,
    oauthTimeoutMs: undefined,
    pendingPerPortal: undefined,
    pendingInstalls: undefined,
    pendingEvents: undefined,
    oauthConcurrency: undefined,
  })
  t.same(
    loadConfig({
      B24_CLIENT_ID: 'app.1',
      B24_CLIENT_SECRET: 's',
      B24_OAUTH_URL: 'https://oauth.bitrix24.tech',
      B24_OAUTH_TIMEOUT_MS: '2500',
      B24_PENDING_PER_PORTAL: '2',
      B24_PENDING_INSTALLS: '50',
      B24_PENDING_EVENTS: '20',
      B24_OAUTH_CONCURRENCY: '1',
    }).receiver.app,
    { clientId: 'app.1', clientSecret: 's', oauthUrl: 'https://oauth.bitrix24.tech', oauthTimeoutMs: 2500, pendingPerPortal: 2, pendingInstalls: 50, pendingEvents: 20, oauthConcurrency: 1 },
  )
  t.equal(loadConfig({ B24_CLIENT_ID: 'app.1', B24_CLIENT_SECRET: 's', B24_OAUTH_URL: 'http://127.0.0.1:8080/' }).receiver.app?.oauthUrl, 'http://127.0.0.1:8080/', 'http on a loopback address (a fake OAuth server)')
  t.equal(loadConfig({ B24_OAUTH_URL: 'https://oauth.bitrix24.tech', B24_OAUTH_TIMEOUT_MS: '10' }).receiver.app, undefined, 'off without the credentials')
  t.equal(loadConfig({ B24_CLIENT_ID: '', B24_CLIENT_SECRET: '  ' }).receiver.app, undefined, 'empty is unset')
})

t.test('application mode: one credential without the other, or an OAuth URL that is not https, stops the start', async (t) => {
  t.throws(() => loadConfig({ B24_CLIENT_ID: 'app.1' }), new ConfigError('application mode needs both B24_CLIENT_ID and B24_CLIENT_SECRET; B24_CLIENT_SECRET is not set'))
  t.throws(() => loadConfig({ B24_CLIENT_SECRET: 'hunter2' }), new ConfigError('application mode needs both B24_CLIENT_ID and B24_CLIENT_SECRET; B24_CLIENT_ID is not set'))
  t.notOk(messageOf({ B24_CLIENT_SECRET: 'hunter2' }).includes('hunter2'), 'the secret is never echoed')
  const app = { B24_CLIENT_ID: 'app.1', B24_CLIENT_SECRET: 'hunter2' }
  for (const url of ['http://oauth.bitrix.info', 'http://user:pa55word@oauth.example.com/', 'https://user:pa55word@oauth.example.com/', 'ftp://127.0.0.1/', 'not a url', 'oauth.bitrix.info']) {
    const message = messageOf({ ...app, B24_OAUTH_URL: url })
    t.equal(message, 'B24_OAUTH_URL must be an https URL with no credentials in it (http only on a loopback address): the client secret is sent there', url)
    t.notOk(message.includes('pa55word') || message.includes('hunter2'))
  }
  t.throws(() => loadConfig({ B24_OAUTH_URL: 'http://oauth.bitrix.info' }), /^B24_OAUTH_URL must be an https URL/, 'checked even before the mode is on')
  t.throws(() => loadConfig({ ...app, B24_OAUTH_TIMEOUT_MS: '0' }), { name: 'ConfigError', message: /B24_OAUTH_TIMEOUT_MS must be >= 1/ })
  t.throws(() => loadConfig({ ...app, B24_OAUTH_TIMEOUT_MS: 'soon' }), /B24_OAUTH_TIMEOUT_MS must be integer/)
  for (const name of ['B24_PENDING_PER_PORTAL', 'B24_PENDING_INSTALLS', 'B24_PENDING_EVENTS', 'B24_OAUTH_CONCURRENCY']) {
    t.throws(() => loadConfig({ ...app, [name]: '0' }), { name: 'ConfigError', message: new RegExp(`${name} must be >= 1`) })
  }
})

t.test('.env.example documents every variable, and nothing else', async (t) => {
  const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
  const documented = [...text.matchAll(/^([A-Z0-9_]+)=/gm)].map((match) => match[1])
  t.same(documented.sort(), Object.keys(EnvSchema.properties).sort())
})
