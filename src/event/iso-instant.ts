/** Unix seconds as an ISO 8601 instant in the style of Bitrix24's dates: `2026-09-16T08:05:01+00:00`. */
export const isoInstant = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString().replace('.000Z', '+00:00')
