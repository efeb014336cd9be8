import type { Clock } from '../clock.ts'

/** A Bitrix24 application's OAuth credentials: what turns on application mode (`B24_CLIENT_ID`, `B24_CLIENT_SECRET`). */
export interface AppOptions {
  /** The application's `client_id` (`local.…` or `app.…`). */
  clientId: string
  /** Its `client_secret`: sent to {@link oauthUrl} and nowhere else. */
  clientSecret: string
  /**
   * The only OAuth server ever called (`B24_OAUTH_URL`); `https://oauth.bitrix.info`. A payload's
   * `server_endpoint` is never used. https, or http on a loopback address.
   */
  oauthUrl?: string
  /** How long the door waits for `app.info` to confirm an install; 5 s. Past it, the install is kept pending. */
  oauthTimeoutMs?: number
  /**
   * Installs of one portal kept pending at once (`B24_PENDING_PER_PORTAL`); 3. An install the
   * OAuth server cannot confirm yet replaces nothing: it waits as a candidate beside the others
   * (a forger's among them). Past this, an install of that portal answers 503.
   */
  pendingPerPortal?: number
  /** Pending installs kept in all (`B24_PENDING_INSTALLS`); 1000. Past it, 503. */
  pendingInstalls?: number
  /** Events stored under one pending install until it is settled (`B24_PENDING_EVENTS`); 1000. Past it, 503. */
  pendingEvents?: number
  /** Confirmations in flight towards the OAuth server at once (`B24_OAUTH_CONCURRENCY`); 4. */
  oauthConcurrency?: number
  /** The pause after a confirmation the OAuth server did not answer, doubled after each until `confirmRetryMaxMs`; 2 s and 5 min. */
  confirmRetryBaseMs?: number
  confirmRetryMaxMs?: number
  /** What the confirmations' pauses are timed by: the system's clock (a test's own runs an outage of minutes in milliseconds). */
  clock?: Clock
}

/** The defaults of {@link AppOptions}. */
export const APP_DEFAULTS = {
  oauthUrl: 'https://oauth.bitrix.info',
  oauthTimeoutMs: 5000,
  pendingPerPortal: 3,
  pendingInstalls: 1000,
  pendingEvents: 1000,
  oauthConcurrency: 4,
  confirmRetryBaseMs: 2000,
  confirmRetryMaxMs: 300000,
}

/** The counts and times of {@link AppOptions} that must be whole numbers of at least 1: checked when a receiver is made. */
export const APP_LIMITS = ['oauthTimeoutMs', 'pendingPerPortal', 'pendingInstalls', 'pendingEvents', 'oauthConcurrency', 'confirmRetryBaseMs', 'confirmRetryMaxMs'] as const

/** {@link AppOptions} with every default in place (the clock apart: each user of it has its own default). */
export type AppSettings = Required<Omit<AppOptions, 'clock'>>

/** The settings of `options`: an unset one (`undefined`, as an unset variable reaches here) keeps its default. */
export function appSettings(options: AppOptions): AppSettings {
  const settings: AppSettings = { ...APP_DEFAULTS, clientId: options.clientId, clientSecret: options.clientSecret }
  for (const [key, value] of Object.entries(options)) if (value !== undefined && key !== 'clock') Object.assign(settings, { [key]: value })
  return settings
}
