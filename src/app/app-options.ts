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
}

/** The defaults of {@link AppOptions}. */
export const APP_DEFAULTS = { oauthUrl: 'https://oauth.bitrix.info', oauthTimeoutMs: 5000 }
