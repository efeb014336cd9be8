import { inspect } from 'node:util'
import type { Portal } from '../../schemas/portal.ts'

/** One OAuth block as Bitrix24 sends it (`auth[…]`, `data[bot][auth][…]`): string fields. */
export type AuthBlock = Readonly<Record<string, string>>

/**
 * The secrets that came with an event, kept apart from its `data`. They are readable by the
 * code that needs them (token check, callbacks) but print as nothing: `JSON.stringify` and pino
 * skip them, `console.log` shows `[redacted]`.
 */
export class Credentials {
  readonly #auth: AuthBlock | undefined
  readonly #bot: AuthBlock | undefined

  constructor(auth?: AuthBlock, bot?: AuthBlock) {
    this.#auth = auth
    this.#bot = bot
  }

  /** The top-level `auth[application_token]`: the only proof a webhook came from Bitrix24. */
  get applicationToken(): string | undefined {
    return this.#auth?.application_token
  }

  /** The top-level `auth` block (the application's or outgoing webhook's). */
  get auth(): AuthBlock | undefined {
    return this.#auth
  }

  /** The portal these credentials are for: `domain`, `member_id`, `client_endpoint` of the `auth` block (else the bot's). */
  get portal(): Portal {
    const block = this.#auth ?? this.#bot
    return { domain: block?.domain ?? null, memberId: block?.member_id ?? null, clientEndpoint: block?.client_endpoint ?? null }
  }

  /** The bot's own OAuth tokens (`data.bot.auth`), for callbacks as the bot. */
  get bot(): AuthBlock | undefined {
    return this.#bot
  }

  /** Whether there are none (a polled event). */
  get isEmpty(): boolean {
    return this.#auth === undefined && this.#bot === undefined
  }

  /** The credentials as one string, for the store (the only way out: printing shows nothing). */
  serialize(): string {
    return JSON.stringify({ auth: this.#auth, bot: this.#bot })
  }

  /** Credentials from {@link serialize}'s string. */
  static parse(text: string): Credentials {
    const { auth, bot } = JSON.parse(text) as { auth?: AuthBlock; bot?: AuthBlock }
    return new Credentials(auth, bot)
  }

  toJSON(): undefined {
    return undefined
  }

  [inspect.custom](): string {
    return 'Credentials [redacted]'
  }
}
