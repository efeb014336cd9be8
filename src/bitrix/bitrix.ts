import type { Logger } from 'pino'
import type { Credentials } from '../event/credentials.ts'
import type { Wait } from '../wait.ts'
import { batchCommand } from './batch-command.ts'
import { BitrixError } from './bitrix-error.ts'
import { checkEventTarget, type ConfirmedPortal } from './check-event-target.ts'
import { isMethodName } from './method-name.ts'
import type { Pacer } from './pacer.ts'
import { DEFAULT_PORTAL_TRUST, type PortalTrust } from './portal-trust.ts'
import { RestClient, type CallOptions, type RestParams } from './rest-client.ts'
import { oauthTarget, type RestTarget } from './rest-target.ts'
import { runBatch, type BatchCall, type BatchOutcome } from './run-batch.ts'

export type { BatchCall, BatchFailure, BatchOutcome, BatchSuccess } from './run-batch.ts'

/** A REST client: calls a method and returns its `result` (`receiver.portal()` gives one for a stored portal). */
export interface Bitrix {
  /**
   * Calls a Bitrix24 REST method and returns its `result`.
   * @throws {BitrixError} with the Bitrix24 code when the call fails.
   */
  call<T = unknown>(method: string, params?: RestParams): Promise<T>
}

/** The REST client a handler gets as `ctx.bitrix`: calls, and batches of calls. */
export interface HandlerBitrix extends Bitrix {
  /**
   * Sends `calls` through the `batch` method: up to 50 a request (more are split into several
   * requests, sent one after another in order), each request one call for the portal's limits.
   * Returns an outcome per call, in the order of `calls`: `{ok: true, result}` (with `total` and
   * `next` for a list method), or `{ok: false, error}` with that call's own {@link BitrixError}.
   * `halt` is 0: a failed call does not stop the others, so check each outcome. A request that
   * fails as a whole (a timeout) gives each of its calls that error. `imbot.v2.*` calls get
   * `botId` (and `botToken`) as with `call`. Parameters travel as PHP's `http_build_query`
   * writes them: `true`/`false` as `1`/`0`, `null` and empty lists left out.
   * @throws {BitrixError} `INVALID_METHOD` before anything is sent when a method is not a method
   *   name (or is `batch`, which the portal does not nest); as `call` when there is nothing to call with.
   */
  batch<T = unknown>(calls: readonly BatchCall[]): Promise<Array<BatchOutcome<T>>>
}

/**
 * Calls one portal with credentials of its own: application mode's caller for a stored portal.
 * It gets the attempt's `signal` (abort the call) and `wait` (every wait for room goes through it).
 */
export interface RestCaller {
  call<T = unknown>(method: string, params?: RestParams, options?: CallOptions): Promise<T>
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
  /** Paces the calls by their portal's bucket and sends limited ones again (shared by every event); without it each call goes at once. */
  pacer?: Pacer
}

const WITHOUT_SETTINGS: RestSettings = { webhook: null, botId: null, botToken: null, timeoutMs: 30000 }

/** Application mode: the client that calls the event's stored portal as the application, and that portal as `app.info` confirmed it. */
export interface AppCaller {
  bitrix: RestCaller
  confirmed: ConfirmedPortal
}

/** Who else a REST client for one event answers to. */
export interface CallerOptions {
  logger?: Logger
  /** Application mode: the event's portal as stored, called as the application. */
  app?: AppCaller
  /** Aborts the calls under way and refuses later ones (with its reason): the attempt was abandoned. */
  signal?: AbortSignal
  /** How the attempt waits for room (its portal's REST bucket): see {@link Wait}. Just waiting, by default. */
  wait?: Wait
}

/** Where an event's calls go: how to send one, and whether through the inbound webhook (which alone takes `botToken`). */
interface Route {
  send<T>(method: string, params: RestParams): Promise<T>
  webhook: boolean
}

/**
 * The REST client for one event. It calls as the bot when the event brought the bot's OAuth
 * tokens (`data.bot.auth`), else as the application with its portal's stored tokens (`app`, in
 * application mode), else with the event's `auth` tokens, else through `B24_REST_URL`.
 * `imbot.v2.*` methods get `botId` (the event's bot, else `B24_BOT_ID`) when not given and,
 * through the inbound webhook, `botToken` too: the docs require it there and only there.
 * An event's own tokens go only where {@link checkEventTarget} allows: its portal, trusted.
 */
export function createBitrix(credentials: Credentials, eventBotId: number | null, settings: RestSettings | undefined, { logger, app, signal, wait }: CallerOptions = {}): HandlerBitrix {
  const { webhook, botId, botToken, timeoutMs, portals = DEFAULT_PORTAL_TRUST, pacer } = settings ?? WITHOUT_SETTINGS
  const bot = eventBotId ?? botId

  // Resolved for each call: the refusal of an untrusted target names the method refused.
  async function route(method: string): Promise<Route> {
    // An abandoned attempt calls nothing more: another holder is handling its event.
    signal?.throwIfAborted()
    const botAuth = oauthTarget(credentials.bot)
    if (!botAuth && app) return { send: (name, params) => app.bitrix.call(name, params, { signal, wait }), webhook: false }
    const event = botAuth ?? oauthTarget(credentials.auth)
    const target = event ?? webhook
    if (!target) throw new BitrixError(method, 'NO_REST_CREDENTIALS', null, 'the event brought no OAuth tokens and B24_REST_URL is not set')
    if (event) await checkEventTarget(method, event, credentials.portal.domain, portals, app?.confirmed ?? null)
    const client = new RestClient(target, { timeoutMs, logger, pacer })
    return { send: (name, params) => client.call(name, params, { signal, wait }), webhook: target.kind === 'webhook' }
  }

  /** `params` with what an `imbot.v2.*` method needs and was not given: `botId`, and `botToken` through the webhook. */
  function complete(method: string, params: RestParams, viaWebhook: boolean): RestParams {
    const full = { ...params }
    if (!method.startsWith('imbot.v2.')) return full
    if (full.botId === undefined && bot != null) full.botId = bot
    if (full.botToken === undefined && viaWebhook && botToken) full.botToken = botToken
    return full
  }

  return {
    async call<T>(method: string, params: RestParams = {}) {
      const { send, webhook: viaWebhook } = await route(method)
      return send<T>(method, complete(method, params, viaWebhook))
    },

    async batch<T>(calls: readonly BatchCall[]) {
      for (const { method } of calls) {
        if (!isMethodName(method)) throw new BitrixError(String(method).slice(0, 100), 'INVALID_METHOD', null, 'not a REST method name')
        // rest 24.0.0 refuses a batch inside a batch (how-to-call-rest-api/batch.md).
        if (method === 'batch') throw new BitrixError(method, 'INVALID_METHOD', null, 'a batch cannot hold another batch')
      }
      const { send, webhook: viaWebhook } = await route('batch')
      const commands = calls.map(({ method, params = {} }) => batchCommand(method, complete(method, params, viaWebhook)))
      return runBatch<T>(calls, commands, (params) => {
        signal?.throwIfAborted()
        return send('batch', params)
      })
    },
  }
}
