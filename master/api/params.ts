import type { z } from 'zod';
import { BadRequestError, NotFoundError, UnprocessableError } from '../../core/errors/index.ts';
import { describeIssues } from '../../core/zod-issue.ts';

export function idParam(value: string | undefined, name: string): number {
  if (!value || !/^\d{1,12}$/.test(value)) throw new BadRequestError(`${name} must be a positive integer, got "${value ?? ''}"`);
  return Number(value);
}

export function found<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new NotFoundError(`${what} not found`);
  return value;
}

/** Validates a JSON body; every problem is listed with its path. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const details = describeIssues(result.error).map((d) => ({
    ...d,
    message: d.message.replace(/^unknown key(s?) /, 'unknown field$1 ').replace(/"/g, ''),
  }));
  throw new UnprocessableError(`invalid request body: ${details.map((d) => `${d.path || '(body)'}: ${d.message}`).join('; ')}`, details);
}

/** Keeps only the requested fields (`field=a,b`), in Buildbot's way. */
export function selectFields<T extends Record<string, unknown>>(items: T[], fields: string[] | null): Partial<T>[] {
  if (!fields) return items;
  return items.map((item) => Object.fromEntries(fields.filter((f) => f in item).map((f) => [f, item[f]])) as Partial<T>);
}

export function fieldsOf(query: Record<string, unknown>): string[] | null {
  const raw = query.field;
  if (raw === undefined) return null;
  return (Array.isArray(raw) ? raw : [raw]).flatMap((x) => String(x).split(','));
}

export const seconds = (ms: number | null): number | null => (ms === null ? null : ms / 1000);
