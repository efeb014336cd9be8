const HEX = /^[0-9A-Fa-f]{2}$/

/**
 * Decodes one form component as PHP's `urldecode` does: `+` is a space, `%XX` is a byte, a `%`
 * not followed by two hex digits stays as it is, and the bytes are read as UTF-8 (invalid
 * sequences become U+FFFD, since a JS string cannot hold raw bytes).
 */
export function phpUrlDecode(text: string): string {
  const hasPercent = text.includes('%')
  if (!hasPercent) return text.includes('+') ? text.replaceAll('+', ' ') : text
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text
  try {
    return decodeURIComponent(spaced)
  } catch {
    return decodeBytes(spaced)
  }
}

// The slow path, for what decodeURIComponent refuses: stray `%` or bytes that are not UTF-8.
function decodeBytes(text: string): string {
  const bytes: number[] = []
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string
    const hex = text.slice(i + 1, i + 3)
    if (char === '%' && HEX.test(hex)) {
      bytes.push(parseInt(hex, 16))
      i += 2
    } else {
      const code = text.codePointAt(i) as number
      if (code > 0xffff) i++
      bytes.push(...Buffer.from(String.fromCodePoint(code), 'utf8'))
    }
  }
  return Buffer.from(bytes).toString('utf8')
}
