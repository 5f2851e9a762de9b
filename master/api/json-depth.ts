/**
 * How deep a JSON request body may nest. `JSON.parse` takes any depth, but the validation after it
 * (zod's recursive schemas, such as a forced build's property values) recurses once per level: a
 * body nested thousands deep overflowed the stack and answered 500. A body is measured right after
 * it is parsed, before any schema sees it, by a walk that keeps its own stack (no recursion, so the
 * measuring cannot overflow either), and one deeper than the limit is a 422 naming where.
 */
import type { RequestHandler } from 'express';
import { UnprocessableError } from '../../core/errors/index.ts';
import { formatPath } from '../../core/format-path.ts';

/** Deepest nesting of objects and arrays a body may have; GitHub's push payloads nest about 5 deep. */
export const MAX_JSON_DEPTH = 64;

/** A container being walked: its depth and how it was reached (for the path of an error only). */
interface Frame {
  value: object;
  depth: number;
  parent: Frame | null;
  key: string | number;
}

function pathOf(frame: Frame): string {
  const keys: (string | number)[] = [];
  for (let f: Frame | null = frame; f?.parent; f = f.parent) keys.push(f.key);
  return formatPath(keys.reverse());
}

/** The path of the first object or array nested deeper than `max` in `value`, or null when none is. */
export function tooDeepAt(value: unknown, max: number = MAX_JSON_DEPTH): string | null {
  if (typeof value !== 'object' || value === null) return null;
  const stack: Frame[] = [{ value, depth: 1, parent: null, key: '' }];
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    if (frame.depth > max) return pathOf(frame);
    const entries: [string | number, unknown][] = Array.isArray(frame.value)
      ? frame.value.map((v, i): [number, unknown] => [i, v])
      : Object.entries(frame.value);
    for (const [key, child] of entries)
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
  }
  return null;
}

/** Throws the 422 for a body nested deeper than the limit. */
export function assertJsonDepth(value: unknown, what = 'request body'): void {
  const at = tooDeepAt(value);
  if (at === null) return;
  const shown = at.length > 120 ? `${at.slice(0, 120)}…` : at;
  throw new UnprocessableError(`${what} is nested deeper than ${MAX_JSON_DEPTH} levels (at ${shown || '(body)'})`, [
    { path: at, message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
  ]);
}

/** Checks the body `express.json()` parsed; goes right after it, before any route. */
export const refuseDeepJson: RequestHandler = (req, _res, next) => {
  assertJsonDepth(req.body);
  next();
};
