import type { Router } from '../router/router.ts'

/**
 * YOUR HANDLERS GO HERE. b24-receiver calls this once at start with the router every event goes
 * through, whether it came by webhook or by polling.
 *
 * - `router.on(type | [types], (event, ctx) => …)`: one of the 13 chat events; `event.data` is
 *   typed for it (see schemas/event-data.ts), a misspelled type fails at start.
 * - `router.onAny(…)` every event; `router.onUnknown(…)` types without a schema (`ONCRMDEALADD`,
 *   `ONAPPINSTALL`, v1 bot events), with `data` as the wire shows it; `router.onError(…)`.
 * - `ctx.portal`, `ctx.log` (tagged child logger), `ctx.credentials` (tokens for callbacks,
 *   never printed), `ctx.source` (`webhook` or `poll`), `ctx.attempt`, `ctx.key` (the event's
 *   stable identity), `ctx.bitrix.call(method, params)` (REST, as the bot when the event brought
 *   its tokens, else through `B24_REST_URL`). A complete bot: ./example-bot.ts.
 *
 * A handler may be async; a throw is logged and reported to `onError`, and never stops the
 * service or the other handlers.
 */
export function registerHandlers(router: Router): void {
  // Example: a message to a bot or in a chat, typed: `message.text` is a string, `chat.id` a number.
  router.on(['ONIMBOTV2MESSAGEADD', 'ONIMV2MESSAGEADD'], (event, ctx) => {
    const { message, chat, user } = event.data
    ctx.log.debug({ chatId: chat.id, from: user.id, length: message.text.length }, 'a message arrived')
  })
}
