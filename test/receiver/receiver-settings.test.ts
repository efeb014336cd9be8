import t from 'tap'
import { pino } from 'pino'
import { systemClock } from '../../src/clock.ts'
import { ConfigError } from '../../src/errors.ts'
import { RECEIVER_DEFAULTS } from '../../src/receiver/receiver-options.ts'
import { receiverSettings } from '../../src/receiver/receiver-settings.ts'
import { DEFAULT_FORM_LIMITS } from '../../src/wire/parse-form.ts'
import { ManualClock } from '../fakes/manual-clock.ts'
import { MemoryStore } from '../fakes/memory-store.ts'
import { APP_TOKEN, SECRET_KEY } from '../helpers.ts'

const APP = { clientId: 'local.1', clientSecret: 'the-secret' }
const URL = 'https://p.bitrix24.com/rest/1/secret/'

t.test('options that cannot work are refused when the receiver is made, naming the option, never quoting a secret', async (t) => {
  const refused: Array<[Parameters<typeof receiverSettings>[0], string]> = [
    [{ tokens: [] }, 'tokens: give at least one application token (B24_APP_TOKENS), or the app option (application mode)'],
    [{ tokens: [], app: { ...APP, clientSecret: '' } }, 'app: give clientId and clientSecret (B24_CLIENT_ID and B24_CLIENT_SECRET)'],
    [{ tokens: [], app: { ...APP, oauthUrl: 'http://oauth.example.com' } }, 'app.oauthUrl (B24_OAUTH_URL) must be https, or http on a loopback address'],
    [{ tokens: [], app: { ...APP, pendingEvents: 0 } }, 'app.pendingEvents must be a whole number of at least 1'],
    [{ tokens: [APP_TOKEN], poll: { mode: 'im' } }, 'polling im needs rest.url (B24_REST_URL), the inbound webhook to poll through'],
    [{ tokens: [APP_TOKEN], poll: { mode: 'imbot' }, rest: { url: URL, botId: 1 } }, 'polling imbot needs rest.botId and rest.botToken (B24_BOT_ID and B24_BOT_TOKEN)'],
    [{ tokens: [APP_TOKEN], store: new MemoryStore() }, 'secretKey: this store (own) keeps no key file: give the key that seals credentials in it (B24_SECRET_KEY), the same on every replica'],
  ]
  for (const [options, message] of refused) t.throws(() => receiverSettings(options), new ConfigError(message), message)
  t.throws(() => receiverSettings({ tokens: [APP_TOKEN], secretKey: 'not-a-key' }), { name: 'ConfigError', message: /^secretKey/ })
  t.throws(() => receiverSettings({ tokens: [APP_TOKEN], rest: { rate: { drainPerSecond: 0, threshold: 50 } } }), { name: 'ConfigError', message: /^rest\.rate must be/ })
  t.throws(() => receiverSettings({ tokens: [APP_TOKEN], rest: { portalRates: { 'a.com': { drainPerSecond: 2, threshold: 0.5 } } } }), { name: 'ConfigError', message: /^rest\.portalRates\["a\.com"\] must be/ })
  t.throws(() => receiverSettings({ tokens: [APP_TOKEN], rest: { operatingLimitSeconds: 0 } }), new ConfigError('rest.operatingLimitSeconds must be a positive number of seconds'))
})

t.test('the defaults of what is left out; what is given, as given', async (t) => {
  const defaults = receiverSettings({ tokens: [APP_TOKEN] })
  t.match(defaults, { bodyLimit: RECEIVER_DEFAULTS.bodyLimit, worker: RECEIVER_DEFAULTS.worker, formLimits: DEFAULT_FORM_LIMITS, shutdownTimeoutMs: RECEIVER_DEFAULTS.shutdownTimeoutMs, clock: systemClock })
  t.match(defaults, { store: { kind: 'sqlite' }, rest: { webhook: null, botId: null, botToken: null, timeoutMs: RECEIVER_DEFAULTS.restTimeoutMs } })
  t.equal(defaults.tokens.size, 1)
  t.same(defaults.pacing, { rates: { rate: { drainPerSecond: 2, threshold: 50 }, portals: {} }, operatingLimitSeconds: undefined, clock: systemClock, logger: defaults.logger }, "the pacer's: Bitrix24's most common plan")
  const paced = receiverSettings({ tokens: [APP_TOKEN], rest: { rate: { drainPerSecond: 5, threshold: 250 }, portalRates: { 'Big.Bitrix24.com': { drainPerSecond: 10, threshold: 500 } }, operatingLimitSeconds: 300 } })
  t.match(paced.pacing, { rates: { rate: { drainPerSecond: 5, threshold: 250 }, portals: { 'big.bitrix24.com': { drainPerSecond: 10, threshold: 500 } } }, operatingLimitSeconds: 300 })
  const logger = pino({ level: 'silent' })
  const clock = new ManualClock()
  const given = receiverSettings({ tokens: [APP_TOKEN], app: APP, store: new MemoryStore(), secretKey: SECRET_KEY, logger, clock, bodyLimit: 10, shutdownTimeoutMs: 5, worker: { concurrency: 2, handlerTimeoutMs: undefined }, poll: { mode: 'imbot' }, rest: { url: URL, botId: 1, botToken: 'bt' } })
  t.match(given, { logger, clock, bodyLimit: 10, shutdownTimeoutMs: 5, worker: { ...RECEIVER_DEFAULTS.worker, concurrency: 2 }, store: { kind: 'own', keyDir: null }, rest: { botId: 1, botToken: 'bt', webhook: { domain: 'p.bitrix24.com' } } })
})
