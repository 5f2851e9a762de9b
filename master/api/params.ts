/**
 * Request input, parsed in one place: path parameters, query strings and JSON bodies go through zod
 * schemas and come out typed, or become the typed error that says what is wrong and where: 400
 * (BadRequestError) for a path or query parameter, 422 (UnprocessableError, each problem with its
 * path) for a body that is JSON but breaks the rules. Handlers never cast what a client sent.
 */
import { z } from 'zod';
import { BadRequestError, NotFoundError, UnprocessableError } from '../../core/errors/index.ts';
import { describeIssues } from '../../core/zod-issue.ts';
import { INT_RANGE } from '../db/collection-query.ts';

/** Largest id: ids are 32-bit integer columns, on SQLite and PostgreSQL alike. */
export const MAX_ID = INT_RANGE.max;

/** A database id in a path (`/builds/12`): digits only, no sign, exponent or spaces. */
export function idParam(what: string) {
  return z
    .string()
    .refine((s) => /^\d{1,10}$/.test(s) && Number(s) <= MAX_ID, {
      error: (issue) => `${what} must be a positive integer up to ${MAX_ID}, got "${String(issue.input)}"`,
    })
    .transform(Number);
}

/** A query parameter that may be given once (express makes a repeated one a list). */
export function single(name: string) {
  return z.string({ error: () => `query parameter ${name} must be given once` });
}

/** A paging bound (`limit`, `offset`): digits only, at most `max`. */
export function bound(name: string, max: number) {
  return single(name)
    .refine((v) => /^\d{1,9}$/.test(v) && Number(v) <= max, {
      error: (issue) => `${name} must be an integer from 0 to ${max}, got "${String(issue.input)}"`,
    })
    .transform(Number);
}

/** The path's `:id`, named in errors as `what` ("build id"). */
export const idPath = (what: string) => z.object({ id: idParam(what) });

/** Path parameters (`req.params`); a bad one is a 400 naming it. */
export function parseParams<S extends z.ZodObject>(req: { params: unknown }, schema: S): z.output<S> {
  return parseRequestPart(schema, req.params, 'path');
}

/**
 * Query parameters (`req.query`, with express's simple parser: strings, or lists of strings when
 * repeated). A strict schema refuses unknown parameters and lists the allowed ones in `details`.
 */
export function parseQuery<S extends z.ZodObject>(req: { query: unknown }, schema: S): z.output<S> {
  return parseRequestPart(schema, req.query, 'query');
}

function parseRequestPart<S extends z.ZodObject>(schema: S, value: unknown, where: 'path' | 'query'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const unknown = result.error.issues.flatMap((issue) => (issue.code === 'unrecognized_keys' ? issue.keys : []));
  if (unknown.length > 0)
    throw new BadRequestError(unknown.map((k) => `unknown parameter "${k}"`).join('; '), { allowed: Object.keys(schema.shape) });
  // Each schema's messages name the parameter the way the client knows it ("build id", "limit").
  const problems = result.error.issues.map((issue) => ({ in: where, name: issue.path.join('.'), message: issue.message }));
  throw new BadRequestError(problems.map((p) => p.message).join('; '), problems);
}

/** A body's problem: where in the body (`properties.x`) and what. */
export interface BodyIssue {
  path: string;
  message: string;
}

/** Checks `value` against `schema`: the parsed value, or every problem with its path. */
export function checkBodyValue<T>(schema: z.ZodType<T>, value: unknown): { ok: true; data: T } | { ok: false; issues: BodyIssue[] } {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, data: result.data };
  const issues = describeIssues(result.error).map((d) => ({
    ...d,
    message: d.message.replace(/^unknown key(s?) /, 'unknown field$1 ').replace(/"/g, ''),
  }));
  return { ok: false, issues };
}

/** Validates a JSON value that is a request body; every problem is listed with its path (422). */
export function parseBodyValue<T>(schema: z.ZodType<T>, value: unknown): T {
  const checked = checkBodyValue(schema, value);
  if (checked.ok) return checked.data;
  const summary = checked.issues.map((d) => `${d.path || '(body)'}: ${d.message}`).join('; ');
  throw new UnprocessableError(`invalid request body: ${summary}`, checked.issues);
}

/** The request's JSON body (none at all reads as `{}`). */
export function parseBody<T>(req: { body: unknown }, schema: z.ZodType<T>): T {
  return parseBodyValue(schema, req.body ?? {});
}

/** The `field=a,b` selection of a collection query (repeatable), or null for all fields. */
export function fieldsOf(query: Record<string, unknown>): string[] | null {
  const raw = query.field;
  if (raw === undefined) return null;
  return (Array.isArray(raw) ? raw : [raw]).flatMap((x) => String(x).split(','));
}

export function found<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new NotFoundError(`${what} not found`);
  return value;
}
