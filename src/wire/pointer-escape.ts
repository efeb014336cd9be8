/** Escapes a key for a JSON Pointer (RFC 6901), as TypeBox writes paths: `~` → `~0`, `/` → `~1`. */
export const pointerEscape = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1')
