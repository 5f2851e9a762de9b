/** Formatting of times, durations and measured values for display. */

/** Epoch seconds → local date and time; '' for null. */
export function formatTime(epochSeconds: number | null | undefined): string {
  if (epochSeconds === null || epochSeconds === undefined) return '';
  return new Date(epochSeconds * 1000).toLocaleString();
}

/** Seconds → "850 ms", "4.2 s", "3m 05s", "2h 03m". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
}

/** Duration between two epoch-second times; a running one counts up to now. */
export function spanSeconds(start: number | null, end: number | null): number | null {
  if (start === null) return null;
  return (end ?? Date.now() / 1000) - start;
}

/** A measured value with 4 significant digits (all digits from 1000 up) and its unit. */
export function formatValue(value: number | null | undefined, unit?: string | null): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  const text = abs >= 1000 ? Math.round(value).toLocaleString() : abs === 0 ? '0' : String(Number(value.toPrecision(4)));
  return unit ? `${text} ${unit}` : text;
}

/** A property value as JSON text (strings quoted), safe for any value. */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
