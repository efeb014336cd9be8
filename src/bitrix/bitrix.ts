import type { Logger } from 'pino'
import type { Credentials } from '../event/credentials.ts'
import { BitrixError } from './bitrix-error.ts'
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
}

/**
 * The REST client for one event. It calls as the bot when the event brought the bot's OAuth
 * tokens (`data.bot.auth`), else as the application with its portal's stored tokens (`app`, in
 * application mode), else with the event's `auth` tokens, else through `B24_REST_URL`.
 * `imbot.v2.*` methods get `botId` (the event's bot, else `B24_BOT_ID`) when not given and,
 * through the inbound webhook, `botToken` too: the docs require it there and only there.
 */
export function createBitrix(credentials: Credentials, eventBotId: number | null, settings: RestSettings | undefined, logger?: Logger, app?: Bitrix): Bitrix {
  return {
    call<T>(method: string, params: RestParams = {}) {
      const bot = oauthTarget(credentials.bot)
      if (!bot && app) return app.call<T>(method, withBotId(method, params, eventBotId ?? settings?.botId))
      const target = bot ?? oauthTarget(credentials.auth) ?? settings?.webhook ?? null
      if (!target) {
        return Promise.reject(new BitrixError(method, 'NO_REST_CREDENTIALS', null, 'the event brought no OAuth tokens and B24_REST_URL is not set'))
      }
      const full = withBotId(method, params, eventBotId ?? settings?.botId)
      if (method.startsWith('imbot.v2.') && full.botToken === undefined && target.kind === 'webhook' && settings?.botToken) full.botToken = settings.botToken
      return new RestClient(target, { timeoutMs: settings?.timeoutMs ?? 30000, logger }).call<T>(method, full)
    },
  }
}

/** `params` with `botId` added for an `imbot.v2.*` method that was not given one. */
function withBotId(method: string, params: RestParams, botId: number | null | undefined): RestParams {
  const full = { ...params }
  if (method.startsWith('imbot.v2.') && full.botId === undefined && botId != null) full.botId = botId
  return full
}
