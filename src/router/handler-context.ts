import type { Logger } from 'pino'
import type { InstalledPortal } from '../../schemas/portal.ts'
import type { HandlerBitrix } from '../bitrix/bitrix.ts'
import type { Credentials } from '../event/credentials.ts'
import type { Delivery, Portal } from '../event/decoded-event.ts'
import type { Reply } from './create-reply.ts'

/** What a handler gets beside the event. */
export interface HandlerContext {
  /**
   * The portal the event came from; in application mode, for a portal that installed the
   * application, with what is stored of it (status, scope, version, token expiry; never a token).
   */
  portal: Portal & Partial<Omit<InstalledPortal, keyof Portal>>
  /** A child logger tagged with the event type and portal. */
  log: Logger
  /** Tokens for callbacks (the bot's OAuth from `data.bot.auth`, the `auth` block); never printed. */
  credentials: Credentials
  /**
   * Bitrix24 REST calls for this event: as its bot when it brought the bot's tokens, else as the
   * application (application mode), else with the event's tokens or through `B24_REST_URL` (see
   * {@link createBitrix}). `ctx.bitrix.batch` sends up to 50 calls as one request.
   */
  bitrix: HandlerBitrix
  /**
   * Answers a bot event in its dialog as its bot: `imbot.v2.Chat.Message.send` with the event's
   * bot and dialog (the chat a message or command came from, the chat a join is about), a text or
   * the method's `fields` (`{message, attach, keyboard, replyId, …}`); returns `{id, uuidMap}`.
   * Paced and refused once the attempt is abandoned, like any `ctx.bitrix` call. Rejects with a
   * `BitrixError` `NO_REPLY_DIALOG` for an event without a bot and a dialog
   * (`ONIMBOTV2DELETE`, user events, non-chat events), sending nothing.
   */
  reply: Reply
  /** Which door the event came through. */
  source: Delivery['source']
  /** 1 on the first try, more on a retry. */
  attempt: number
  /**
   * A stable identity of this event, the same on every attempt and after a restart (the dedup
   * key): what to record to make a handler's effect happen once.
   */
  key: string
  /**
   * Aborts when this attempt is abandoned: its claim on the event was lost (it lapsed, a
   * partition or a stall, and another replica may be handling the event now). Nothing of the
   * attempt is written then, and `ctx.bitrix` calls reject; pass it to what a handler waits on.
   */
  signal: AbortSignal
}
