import type { Logger } from 'pino'
import type { Credentials } from '../event/credentials.ts'
import { BitrixError } from './bitrix-error.ts'
import { checkEventTarget, type ConfirmedPortal } from './check-event-target.ts'
import { DEFAULT_PORTAL_TRUST, type PortalTrust } from './portal-trust.ts'
import { RestClient, type RestParams } from './rest-client.ts'
import { oauthTarget, type RestTarget } from './rest-target.ts'

/** The REST client a handler gets as `ctx.bitrix`. */
export interface Bitrix {
  /**
   * Calls a Bitrix24 REST method and returns its `result`.
   * @throws {BitrixError} with the Bitrix24 code when the call fails.
   */
  call<T = unknown>(method: string, params?: RestParams): Promise<T>
}

/** What the service knows of REST beyond an event's own credentials (`B24_REST_URL`, `B24_BOT_*`). */
export interface RestSettings {
  /** The inbound webhook of `B24_REST_URL`, or `null`. */
  webhook: RestTarget | null
  botId: number | null
  botToken: string | null
  timeoutMs: number
  /** Which portals an event's own tokens may be sent to; Bitrix24's cloud only when not given. */
  portals?: PortalTrust
}

const WITHOUT_SETTINGS: RestSettings = { webhook: null, botId: null, botToken: null, timeoutMs: 30000 }

/** Application mode: the client that calls the event's stored portal as the application, and that portal as `app.info` confirmed it. */
export interface AppCaller {
  bitrix: Bitrix
  confirmed: ConfirmedPortal
}

/** Who else a REST client for one event answers to. */
export interface CallerOptions {
  logger?: Logger
  /** Application mode: the event's portal as stored, called as the application. */
  app?: AppCaller
  /** Aborts the calls under way and refuses later ones (with its reason): the attempt was abandoned. */
  signal?: AbortSignal
}

/**
 * The REST client for one event. It calls as the bot when the event brought the bot's OAuth
 * tokens (`data.bot.auth`), else as the application with its portal's stored tokens (`app`, in
 * application mode), else with the event's `auth` tokens, else through `B24_REST_URL`.
 * `imbot.v2.*` methods get `botId` (the event's bot, else `B24_BOT_ID`) when not given and,
 * through the inbound webhook, `botToken` too: the docs require it there and only there.
 * An event's own tokens go only where {@link checkEventTarget} allows: its portal, trusted.
 */
export function createBitrix(credentials: Credentials, eventBotId: number | null, settings: RestSettings | undefined, { logger, app, signal }: CallerOptions = {}): Bitrix {
  return {
    async call<T>(method: string, params: RestParams = {}) {
      // An abandoned attempt calls nothing more: another holder is handling its event.
      signal?.throwIfAborted()
      const { webhook, botId, botToken, timeoutMs, portals = DEFAULT_PORTAL_TRUST } = settings ?? WITHOUT_SETTINGS
      const bot = oauthTarget(credentials.bot)
      if (!bot && app) return app.bitrix.call<T>(method, withBotId(method, params, eventBotId ?? botId))
      const event = bot ?? oauthTarget(credentials.auth)
      const target = event ?? webhook
      if (!target) throw new BitrixError(method, 'NO_REST_CREDENTIALS', null, 'the event brought no OAuth tokens and B24_REST_URL is not set')
      if (event) await checkEventTarget(method, event, credentials.portal.domain, portals, app?.confirmed ?? null)
      const full = withBotId(method, params, eventBotId ?? botId)
      if (method.startsWith('imbot.v2.') && full.botToken === undefined && target.kind === 'webhook' && botToken) full.botToken = botToken
      return new RestClient(target, { timeoutMs, logger }).call<T>(method, full, signal)
    },
  }
}

/** `params` with `botId` added for an `imbot.v2.*` method that was not given one. */
function withBotId(method: string, params: RestParams, botId: number | null | undefined): RestParams {
  const full = { ...params }
  if (method.startsWith('imbot.v2.') && full.botId === undefined && botId != null) full.botId = botId
  return full
}
