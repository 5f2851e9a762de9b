/**
 * Retention horizons are written as durations: one or more `<whole number><unit>` parts, units
 * s (seconds), m (minutes), h (hours), d (days), w (weeks), y (years of 365 days): '30d', '1y',
 * '12h', '1w3d'. Months are left out on purpose: '1m' would be read as a minute by some, a month by
 * others.
 */
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000 } as const;
const WHOLE = /^(?:\d+[smhdwy])+$/;
const PART = /(\d+)([smhdwy])/g;

export const DURATION_SYNTAX = "a duration such as '30d', '12h', '1y' or '1w3d' (units s, m, h, d, w, y)";

/** The duration in milliseconds, or null when `text` is not one (or is zero). */
export function parseDuration(text: string): number | null {
  const trimmed = text.trim();
  if (!WHOLE.test(trimmed)) return null;
  let ms = 0;
  for (const [, n, unit] of trimmed.matchAll(PART)) ms += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  return ms > 0 && Number.isSafeInteger(ms) ? ms : null;
}
