const SECRET_KEYS = new Set(['auth', 'access_token', 'refresh_token', 'application_token'])
const SECRET_LENGTHS = new Set([...SECRET_KEYS].map((key) => key.length))

/**
 * Whether a key inside `data` holds credentials and must leave it: any `auth`/`AUTH` object
 * (v2 bots' `data.bot.auth`, v1 bots' `data.BOT.<id>.AUTH`) and any token field at any depth
 * (../shared/WIRE.md §3), whatever its case.
 */
export const isSecretKey = (key: string): boolean => SECRET_LENGTHS.has(key.length) && SECRET_KEYS.has(key.toLowerCase())
