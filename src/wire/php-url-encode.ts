const PHP_EXTRA = /[!'()*~]/g

/**
 * Encodes text as PHP's `urlencode`: letters, digits, `-`, `_`, `.` stay, a space becomes `+`,
 * every other UTF-8 byte becomes `%XX` in uppercase hex.
 */
export function phpUrlEncode(text: string): string {
  let encoded: string
  try {
    encoded = encodeURIComponent(text)
  } catch {
    // A lone surrogate cannot be UTF-8; Buffer writes U+FFFD for it, as PHP would see it.
    encoded = encodeURIComponent(Buffer.from(text, 'utf8').toString('utf8'))
  }
  return encoded.replace(PHP_EXTRA, escapeChar).replaceAll('%20', '+')
}

const escapeChar = (char: string) => '%' + char.charCodeAt(0).toString(16).toUpperCase()
