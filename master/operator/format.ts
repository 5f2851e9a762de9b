/** How the operator commands show times, durations and results. */
import type { ResultName } from '../../protocol/api-types.ts';

const pad = (n: number) => String(n).padStart(2, '0');

/** Local time, to the second: 2025-12-07 14:03:59. */
export function time(ms: number | null): string {
  if (ms === null) return '-';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 850ms, 12.3s, 4m05s, 2h03m. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

/** From start to end, or to now while it runs. */
export function elapsed(start: number | null, end: number | null, now = Date.now()): string {
  if (start === null) return '-';
  return duration((end ?? now) - start);
}

export function result(name: ResultName | null, complete: boolean): string {
  return name ?? (complete ? '-' : 'running');
}

/** A number for a summary: up to 4 significant digits, no exponent for everyday sizes. */
export function num(v: number | null): string {
  if (v === null) return '-';
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(4)).toString();
}
