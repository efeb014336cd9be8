import type { Logger } from 'pino'
import { APP_DEFAULTS, APP_LIMITS } from '../app/app-options.ts'
import { systemClock, type Clock } from '../clock.ts'
import { isSecureUrl } from '../app/secure-url.ts'
import { createTokenSet, type TokenSet } from '../auth/token-set.ts'
import type { RestSettings } from '../bitrix/bitrix.ts'
import type { PacerOptions } from '../bitrix/pacer.ts'
import { BITRIX24_CLOUD_HOSTS } from '../bitrix/portal-hosts.ts'
import { systemLookup } from '../bitrix/portal-trust.ts'
import { checkRestRate, DEFAULT_REST_RATE, type RestRate, type RestRates } from '../bitrix/rest-rate.ts'
import { webhookTarget } from '../bitrix/rest-target.ts'
import { ConfigError } from '../errors.ts'
import { createLogger } from '../log/create-logger.ts'
import { parseSecretKey, previousKeys } from '../seal/secret-key.ts'
import { chosenStore } from '../store/chosen-store.ts'
import type { StoreFactory } from '../store/store-factory.ts'
import { DEFAULT_FORM_LIMITS, type FormLimits } from '../wire/parse-form.ts'
import { RECEIVER_DEFAULTS, withDefaults, type ReceiverOptions } from './receiver-options.ts'

/** A receiver's options checked, with their defaults: what its parts are made from. */
export interface ReceiverSettings {
  options: ReceiverOptions
  tokens: TokenSet
  rest: RestSettings
  /**
   * What the receiver's one pacer is made of (rates, operating limit, clock, logger), all but the
   * store's buckets and the metrics: `new Pacer({ ...pacing, buckets: () => store?.restBuckets, observe })`.
   */
  pacing: PacerOptions & { rates: RestRates }
  worker: typeof RECEIVER_DEFAULTS.worker
  store: StoreFactory
  logger: Logger
  bodyLimit: number
  formLimits: FormLimits
  shutdownTimeoutMs: number
  clock: Clock
}

/** @throws {ConfigError} for options that cannot work, naming the option (never quoting a secret). */
export function receiverSettings(options: ReceiverOptions): ReceiverSettings {
  if (options.tokens.length === 0 && !options.app) throw new ConfigError('tokens: give at least one application token (B24_APP_TOKENS), or the app option (application mode)')
  if (options.app) checkApp(options.app)
  const { rest = {}, poll } = options
  const tokens = createTokenSet(options.tokens)
  const restSettings: RestSettings = {
    webhook: rest.url ? webhookTarget(rest.url) : null,
    botId: rest.botId ?? null,
    botToken: rest.botToken ?? null,
    timeoutMs: rest.timeoutMs ?? RECEIVER_DEFAULTS.restTimeoutMs,
    portals: { hosts: options.portalHosts ?? BITRIX24_CLOUD_HOSTS, pinnedDomains: tokens.domains, lookup: options.lookupHost ?? systemLookup },
  }
  if (poll && !restSettings.webhook) throw new ConfigError(`polling ${poll.mode} needs rest.url (B24_REST_URL), the inbound webhook to poll through`)
  // imbot.v2.Event.get: botId always, botToken with inbound-webhook auth (the method's doc page).
  if (poll?.mode === 'imbot' && (restSettings.botId === null || restSettings.botToken === null)) {
    throw new ConfigError('polling imbot needs rest.botId and rest.botToken (B24_BOT_ID and B24_BOT_TOKEN)')
  }
  const store = chosenStore(options)
  if (store.keyDir === null && options.secretKey === undefined) {
    throw new ConfigError(`secretKey: this store (${store.kind}) keeps no key file: give the key that seals credentials in it (B24_SECRET_KEY), the same on every replica`)
  }
  if (typeof options.secretKey === 'string') parseSecretKey(options.secretKey, 'secretKey')
  if (options.previousSecretKeys !== undefined) {
    if (options.secretKey === undefined) throw new ConfigError('previousSecretKeys: a key rotation needs the new key in secretKey (B24_SECRET_KEY)')
    previousKeys(options.previousSecretKeys)
  }
  const logger = (options.logger as Logger | undefined) ?? createLogger({ level: 'info' })
  const clock = options.clock ?? systemClock
  return {
    options,
    tokens,
    rest: restSettings,
    pacing: { rates: restRates(rest), operatingLimitSeconds: operatingLimit(rest.operatingLimitSeconds), clock, logger },
    worker: withDefaults(RECEIVER_DEFAULTS.worker, options.worker),
    store,
    // Fastify's logger is pino (its type names fewer of pino's methods than handlers may use).
    logger,
    bodyLimit: options.bodyLimit ?? RECEIVER_DEFAULTS.bodyLimit,
    formLimits: withDefaults(DEFAULT_FORM_LIMITS, options.formLimits),
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? RECEIVER_DEFAULTS.shutdownTimeoutMs,
    clock,
  }
}

/**
 * `rest.rate` and `rest.portalRates`, checked, hosts in lower case.
 * @throws {ConfigError} naming the option of a rate that cannot be a bucket's.
 */
function restRates(rest: NonNullable<ReceiverOptions['rest']>): RestRates {
  const portals: Record<string, RestRate> = {}
  for (const [host, rate] of Object.entries(rest.portalRates ?? {})) portals[host.toLowerCase()] = checkRestRate(rate, `rest.portalRates[${JSON.stringify(host.slice(0, 100))}]`)
  return { rate: rest.rate ? checkRestRate(rest.rate, 'rest.rate') : DEFAULT_REST_RATE, portals }
}

/** @throws {ConfigError} for an operating limit that is not a positive number of seconds. */
function operatingLimit(seconds: number | undefined): number | undefined {
  if (seconds !== undefined && !(Number.isFinite(seconds) && seconds > 0)) throw new ConfigError('rest.operatingLimitSeconds must be a positive number of seconds')
  return seconds
}

/** @throws {ConfigError} for application options that cannot work; never quotes the secret. */
function checkApp(app: NonNullable<ReceiverOptions['app']>): void {
  if (!app.clientId || !app.clientSecret) throw new ConfigError('app: give clientId and clientSecret (B24_CLIENT_ID and B24_CLIENT_SECRET)')
  if (!isSecureUrl(app.oauthUrl ?? APP_DEFAULTS.oauthUrl)) throw new ConfigError('app.oauthUrl (B24_OAUTH_URL) must be https, or http on a loopback address')
  for (const name of APP_LIMITS) {
    const value = app[name]
    if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new ConfigError(`app.${name} must be a whole number of at least 1`)
  }
}
