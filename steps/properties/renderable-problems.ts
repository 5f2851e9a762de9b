/**
 * Finds every interpolate(...) in a step's options (inside arrays, records, transform() and keyword
 * arguments) with the problems its template has, for the config check to report with their paths.
 */
import { isInterpolate } from './interpolate.ts';
import { transformed } from './renderers.ts';

export interface RenderableProblem {
  path: PropertyKey[];
  message: string;
}

export function renderableProblems(value: unknown, path: PropertyKey[] = [], seen = new Set<unknown>()): RenderableProblem[] {
  if (typeof value !== 'object' && typeof value !== 'function') return [];
  if (value === null || seen.has(value)) return [];
  seen.add(value);
  if (isInterpolate(value)) {
    return [
      ...value.problems.map((message) => ({ path, message: `interpolate(${JSON.stringify(value.template)}): ${message}` })),
      ...Object.values(value.kwargs).flatMap((v) => renderableProblems(v, path, seen)),
    ];
  }
  if (typeof value === 'function') return renderableProblems(transformed(value), path, seen);
  if (Array.isArray(value)) return value.flatMap((v: unknown, i) => renderableProblems(v, [...path, i], seen));
  // Plain records only: class instances (a RegExp, a Date, a parser) hold no config renderables.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return [];
  return Object.entries(value).flatMap(([k, v]) => renderableProblems(v, [...path, k], seen));
}
